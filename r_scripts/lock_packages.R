# Records the R packages dml-parity uses, at the versions installed now, in a lock file that
# install_packages.R installs from (so a fresh machine later gets these versions, not the newest).
#
# Usage: Rscript r_scripts/lock_packages.R <lib> <repo-url> <lock-file> [extra roots...]
#
# The packages are the roots of package_roots.R (plus extra roots) and everything they depend on,
# read from the installed DESCRIPTION files. Each is "repository" when it lives in <lib> (installed
# from the repository) or "system" when it comes from R itself or Debian (r-recommended,
# r-cran-*); repository entries carry the MD5 sum of their source tarball from the repository's
# index, so a different tarball under the same version is noticed. Written to a temporary file,
# then renamed.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3L) stop("usage: lock_packages.R <lib> <repo-url> <lock-file> [roots...]")
script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "package_roots.R"))
lib <- normalizePath(args[[1L]], mustWork = TRUE)
repo <- args[[2L]]
lock <- args[[3L]]
roots <- unique(c(names(dmlp_required), if (length(args) > 3L) args[-(1:3)]))
.libPaths(c(lib, .libPaths()))

base_pkgs <- rownames(installed.packages(priority = "base"))
description <- function(pkg) {
  path <- system.file("DESCRIPTION", package = pkg, lib.loc = .libPaths())
  if (!nzchar(path)) stop(sprintf("%s is not installed: run make setup first", pkg), call. = FALSE)
  read.dcf(path)[1L, ]
}

# Dependencies first (a topological order), so the installer can go from top to bottom.
ordered <- character()
visit <- function(pkg, trail = character()) {
  if (pkg %in% ordered || pkg %in% base_pkgs || pkg %in% trail) return(invisible())
  desc <- description(pkg)
  for (field in intersect(dmlp_dep_fields, names(desc))) {
    for (dep in dmlp_dep_names(desc[[field]])) visit(dep, c(trail, pkg))
  }
  ordered <<- c(ordered, pkg)
}
for (pkg in roots) visit(pkg)

index <- suppressWarnings(tryCatch(utils::available.packages(repos = repo, type = "source"), error = function(e) NULL))
# A lock without the tarballs' checksums would pin less than it claims: an unreachable repository stops it.
if (is.null(index) || !nrow(index)) stop("cannot read the package index of ", repo, " (set DMLP_R_REPO)", call. = FALSE)
records <- vapply(ordered, function(pkg) {
  version <- description(pkg)[["Version"]]
  in_lib <- file.exists(file.path(lib, pkg, "DESCRIPTION"))
  entry <- c(Package = pkg, Version = version, Source = if (in_lib) "repository" else "system")
  if (in_lib && !is.null(index) && pkg %in% rownames(index) && identical(index[pkg, "Version"], version) &&
      "MD5sum" %in% colnames(index) && !is.na(index[pkg, "MD5sum"])) {
    entry[["MD5sum"]] <- index[pkg, "MD5sum"]
  }
  paste(sprintf("%s: %s", names(entry), entry), collapse = "\n")
}, character(1L))

header <- c(
  "# R packages of dml-parity, pinned. Written by `make lock` (r_scripts/lock_packages.R) from the",
  "# packages installed in .rlib; r_scripts/install_packages.R installs exactly these versions.",
  sprintf("# R %s. Source: repository = installed from DMLP_R_REPO (MD5sum of the source tarball);", getRversion()),
  "# system = from R itself or Debian, checked but not installed.",
  ""
)
tmp <- paste0(lock, ".tmp")
writeLines(c(header, paste(records, collapse = "\n\n")), tmp)
invisible(file.rename(tmp, lock))
message(sprintf("wrote %s: %d packages (%d from the repository)", lock, length(records),
                sum(grepl("Source: repository", records, fixed = TRUE))))
