# Installs the R side of dml-parity into a project-local library.
#
# Usage: Rscript r_scripts/install_packages.R <lib> <repo-url> <cache-dir> [extra roots...]
#
# Each package is compiled once into <cache-dir>/<pkg>_<version>/ (the cache is keyed by R's
# version through the caller's choice of <cache-dir>) and <lib>/<pkg> is a symlink to it, so a
# second setup on the same machine links instead of compiling. A package already usable from R's
# own libraries (base, recommended, Debian's r-cran-*) is kept when its version satisfies every
# minimum that the packages being installed declare: versions are compared, not names.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3L) stop("usage: install_packages.R <lib> <repo-url> <cache-dir> [roots...]")
lib <- normalizePath(args[[1L]], mustWork = FALSE)
repo <- args[[2L]]
cache <- normalizePath(args[[3L]], mustWork = FALSE)
extra_roots <- if (length(args) > 3L) args[-(1:3)] else character()

# Minimum versions the harness itself needs (DoubleML's set_sample_splitting and
# store_predictions behave as the harness expects from these on).
required <- c(
  DoubleML = "1.0.2", mlr3 = "1.8.0", mlr3learners = "0.16.0", mlr3tuning = "1.0.0",
  ranger = "0.14.0", glmnet = "4.1", jsonlite = "1.8.0", rpart = "4.1", nnet = "7.3",
  e1071 = "1.7-17"
)
roots <- unique(c(names(required), extra_roots))

dir.create(lib, recursive = TRUE, showWarnings = FALSE)
dir.create(cache, recursive = TRUE, showWarnings = FALSE)
.libPaths(c(lib, .libPaths()))
Sys.setenv(MAKEFLAGS = paste0("-j", max(1L, parallel::detectCores())))

db <- utils::available.packages(repos = repo, type = "source")
missing_roots <- setdiff(roots, c(rownames(db), rownames(installed.packages(.Library))))
if (length(missing_roots)) stop("not in repository ", repo, ": ", paste(missing_roots, collapse = ", "))

dep_fields <- c("Depends", "Imports", "LinkingTo")
base_pkgs <- rownames(installed.packages(priority = "base"))

# Minimum version of each package asked for by the roots and their dependencies.
minimums <- required
note_minimum <- function(pkg, version) {
  if (is.na(minimums[pkg]) || package_version(version) > package_version(minimums[[pkg]])) {
    minimums[[pkg]] <<- version
  }
}
closure <- character()
queue <- roots
while (length(queue)) {
  pkg <- queue[[1L]]
  queue <- queue[-1L]
  if (pkg %in% closure || pkg %in% base_pkgs) next
  closure <- c(closure, pkg)
  if (!pkg %in% rownames(db)) next  # recommended package not mirrored: must be installed already
  for (field in dep_fields) {
    entry <- db[pkg, field]
    if (is.na(entry)) next
    for (dep in trimws(strsplit(entry, ",")[[1L]])) {
      name <- trimws(sub("\\(.*", "", dep))
      if (name == "R" || name == "" || name %in% base_pkgs) next
      if (grepl(">=", dep)) note_minimum(name, trimws(sub(".*>=\\s*([^)]*)\\).*", "\\1", dep)))
      queue <- c(queue, name)
    }
  }
}

installed_version <- function(pkg) {
  for (path in .libPaths()) {
    desc <- file.path(path, pkg, "DESCRIPTION")
    if (file.exists(desc)) return(read.dcf(desc, fields = "Version")[1L, 1L])
  }
  NA_character_
}
sufficient <- function(pkg) {
  have <- installed_version(pkg)
  !is.na(have) && (is.na(minimums[pkg]) || package_version(have) >= package_version(minimums[[pkg]]))
}

# Topological order: a package is installed after the ones it links to or imports.
ordered <- character()
visit <- function(pkg, trail = character()) {
  if (pkg %in% ordered || pkg %in% base_pkgs || !pkg %in% closure) return(invisible())
  if (pkg %in% rownames(db)) {
    for (field in dep_fields) {
      entry <- db[pkg, field]
      if (is.na(entry)) next
      for (dep in trimws(sub("\\(.*", "", strsplit(entry, ",")[[1L]]))) {
        if (!dep %in% trail) visit(dep, c(trail, pkg))
      }
    }
  }
  ordered <<- c(ordered, pkg)
}
for (pkg in closure) visit(pkg)

linked <- 0L
compiled <- 0L
for (pkg in ordered) {
  if (sufficient(pkg)) next
  if (!pkg %in% rownames(db)) {
    stop(sprintf("%s >= %s is needed but neither installed nor in %s", pkg, minimums[[pkg]], repo))
  }
  version <- db[pkg, "Version"]
  if (!is.na(minimums[pkg]) && package_version(version) < package_version(minimums[[pkg]])) {
    stop(sprintf("%s >= %s is needed but %s has %s", pkg, minimums[[pkg]], repo, version))
  }
  slot <- file.path(cache, paste0(pkg, "_", version))
  target <- file.path(lib, pkg)
  if (!file.exists(file.path(slot, pkg, "DESCRIPTION"))) {
    message(sprintf("compiling %s %s", pkg, version))
    staging <- paste0(slot, ".partial")
    unlink(staging, recursive = TRUE)
    dir.create(staging, recursive = TRUE)
    utils::install.packages(pkg, lib = staging, repos = repo, type = "source",
                            dependencies = FALSE, quiet = TRUE)
    if (!file.exists(file.path(staging, pkg, "DESCRIPTION"))) stop("installing ", pkg, " failed")
    unlink(slot, recursive = TRUE)
    file.rename(staging, slot)  # a half-compiled package never enters the cache
    compiled <- compiled + 1L
  } else {
    linked <- linked + 1L
  }
  unlink(target, recursive = TRUE)
  file.symlink(file.path(slot, pkg), target)
}
message(sprintf("R packages ready in %s (%d compiled, %d linked from %s)", lib, compiled, linked, cache))
