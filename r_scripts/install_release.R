# Installs one DoubleML release into a library of its own (`dml-parity versions`).
#
# Usage: Rscript r_scripts/install_release.R <lib> <tarball-url>
#
# Only DoubleML itself goes into <lib>; its dependencies are read from the libraries R_LIBS names
# (the project's .rlib), so the release library stays small and the project's library untouched.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2L) stop("usage: install_release.R <lib> <tarball-url>")
lib <- normalizePath(args[[1L]], mustWork = TRUE)
url <- args[[2L]]
tarball <- file.path(tempdir(), basename(url))
if (startsWith(url, "file://")) {
  file.copy(sub("^file://", "", url), tarball)
} else {
  utils::download.file(url, tarball, quiet = TRUE)
}
if (!file.exists(tarball)) stop("cannot read ", url)
utils::install.packages(tarball, lib = lib, repos = NULL, type = "source", dependencies = FALSE, quiet = TRUE)
if (!nzchar(system.file(package = "DoubleML", lib.loc = lib))) stop("DoubleML did not install from ", url)
