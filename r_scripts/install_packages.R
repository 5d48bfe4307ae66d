# Installs the R side of dml-parity into a project-local library.
#
# Usage: Rscript r_scripts/install_packages.R <lib> <repo-url> <cache-dir> <lock-file or -> [extra roots...]
#
# With a lock file (r-packages.lock, written by lock_packages.R) every package is installed at
# exactly its recorded version: from the repository's index when it holds that version, else from
# the repository's archive (src/contrib/Archive/<pkg>/, where CRAN keeps old versions); a version
# the repository lacks stops the install with a message naming package, version and repository.
# Packages the lock records as "system" (R itself, Debian's r-recommended and r-cran-*) are checked,
# and a different version is reported, not replaced. Without a lock ("-"), the roots of
# package_roots.R and their dependencies are resolved from the repository at the versions it holds,
# keeping any installed package whose version satisfies every declared minimum.
#
# Each package is compiled once into <cache-dir>/<pkg>_<version>/ (the cache is keyed by R's
# version through the caller's choice of <cache-dir>) and <lib>/<pkg> is a symlink to it, so a
# second setup on the same machine links instead of compiling.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4L) stop("usage: install_packages.R <lib> <repo-url> <cache-dir> <lock-file or -> [roots...]")
script_dir <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
source(file.path(script_dir, "package_roots.R"))
lib <- normalizePath(args[[1L]], mustWork = FALSE)
repo <- args[[2L]]
cache <- normalizePath(args[[3L]], mustWork = FALSE)
lock <- if (identical(args[[4L]], "-")) NULL else args[[4L]]
lock_name <- if (is.null(lock)) "" else basename(lock)
extra_roots <- if (length(args) > 4L) args[-(1:4)] else character()

dir.create(lib, recursive = TRUE, showWarnings = FALSE)
dir.create(cache, recursive = TRUE, showWarnings = FALSE)
.libPaths(c(lib, .libPaths()))
Sys.setenv(MAKEFLAGS = paste0("-j", max(1L, parallel::detectCores())))

db <- utils::available.packages(repos = repo, type = "source")
base_pkgs <- rownames(installed.packages(priority = "base"))
system_libs <- setdiff(.libPaths(), lib)

# One line on stderr and exit status 1: what a user reads in make's output.
fail <- function(text) {
  message("install_packages.R: ", text)
  quit(save = "no", status = 1L)
}

installed_version <- function(pkg, paths = .libPaths()) {
  for (path in paths) {
    desc <- file.path(path, pkg, "DESCRIPTION")
    if (file.exists(desc)) return(read.dcf(desc, fields = "Version")[1L, 1L])
  }
  NA_character_
}
same_version <- function(a, b) !is.na(a) && !is.na(b) && package_version(a) == package_version(b)

linked <- 0L
compiled <- 0L
# Compile `source` (a package name in the repository, or a tarball path) into the cache slot of
# pkg_version unless it is there, then link <lib>/<pkg> to the slot.
install_slot <- function(pkg, version, source = pkg) {
  slot <- file.path(cache, paste0(pkg, "_", version))
  target <- file.path(lib, pkg)
  if (!file.exists(file.path(slot, pkg, "DESCRIPTION"))) {
    message(sprintf("compiling %s %s", pkg, version))
    staging <- paste0(slot, ".partial")
    unlink(staging, recursive = TRUE)
    dir.create(staging, recursive = TRUE)
    utils::install.packages(source, lib = staging, repos = if (identical(source, pkg)) repo else NULL,
                            type = "source", dependencies = FALSE, quiet = TRUE)
    if (!file.exists(file.path(staging, pkg, "DESCRIPTION"))) stop("installing ", pkg, " failed", call. = FALSE)
    unlink(slot, recursive = TRUE)
    file.rename(staging, slot)  # a half-compiled package never enters the cache
    compiled <<- compiled + 1L
  } else {
    linked <<- linked + 1L
  }
  unlink(target, recursive = TRUE)
  file.symlink(file.path(slot, pkg), target)
}

# The tarball of an exact version: the index's when it holds that version, else the archive's.
locked_source <- function(pkg, version, md5) {
  in_index <- pkg %in% rownames(db) && same_version(db[pkg, "Version"], version)
  if (in_index) {
    if (!is.na(md5) && "MD5sum" %in% colnames(db) && !is.na(db[pkg, "MD5sum"]) && db[pkg, "MD5sum"] != md5) {
      fail(sprintf("%s: %s %s in %s is not the tarball the lock recorded (MD5 %s, lock %s)",
                   lock_name, pkg, version, repo, db[pkg, "MD5sum"], md5))
    }
    return(pkg)
  }
  tarball <- file.path(tempdir(), sprintf("%s_%s.tar.gz", pkg, version))
  url <- sprintf("%s/src/contrib/Archive/%s/%s_%s.tar.gz", sub("/+$", "", repo), pkg, pkg, version)
  fetched <- suppressWarnings(tryCatch(utils::download.file(url, tarball, quiet = TRUE, mode = "wb") == 0L,
                                       error = function(e) FALSE))
  if (!isTRUE(fetched) || !file.exists(tarball)) {
    has <- if (pkg %in% rownames(db)) paste("has", db[pkg, "Version"]) else "does not have it"
    fail(sprintf(paste0("%s pins %s %s, but the repository %s %s (nor in its archive). Point DMLP_R_REPO at ",
                        "a repository with that version, or install the version you want and run `make lock`."),
                 lock_name, pkg, version, repo, has))
  }
  if (!is.na(md5) && unname(tools::md5sum(tarball)) != md5) {
    fail(sprintf("%s: the archive's %s %s is not the tarball the lock recorded", lock_name, pkg, version))
  }
  tarball
}

install_locked <- function(lock) {
  pins <- dmlp_read_lock(lock)
  for (i in seq_len(nrow(pins))) {
    pkg <- pins[i, "Package"]
    version <- pins[i, "Version"]
    if (pkg == "R") next
    if (pins[i, "Source"] == "system") {
      have <- installed_version(pkg, system_libs)
      if (!is.na(have)) {
        if (!same_version(have, version)) {
          message(sprintf("note: %s records %s %s from the system (R or Debian); this machine has %s",
                          lock_name, pkg, version, have))
        }
        next
      }
      # Missing from the system: install the recorded version like any other package.
    } else if (same_version(installed_version(pkg, lib), version)) {
      next
    }
    source <- locked_source(pkg, version, pins[i, "MD5sum"])  # fails before any "compiling" line
    install_slot(pkg, version, source)
  }
}

install_resolved <- function(roots) {
  missing_roots <- setdiff(roots, c(rownames(db), rownames(installed.packages(.Library))))
  if (length(missing_roots)) stop("not in repository ", repo, ": ", paste(missing_roots, collapse = ", "))
  # Minimum version of each package asked for by the roots and their dependencies.
  minimums <- dmlp_required
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
    for (field in dmlp_dep_fields) {
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
  sufficient <- function(pkg) {
    have <- installed_version(pkg)
    !is.na(have) && (is.na(minimums[pkg]) || package_version(have) >= package_version(minimums[[pkg]]))
  }
  # Topological order: a package is installed after the ones it links to or imports.
  ordered <- character()
  visit <- function(pkg, trail = character()) {
    if (pkg %in% ordered || pkg %in% base_pkgs || !pkg %in% closure) return(invisible())
    if (pkg %in% rownames(db)) {
      for (field in dmlp_dep_fields) {
        for (dep in dmlp_dep_names(db[pkg, field])) if (!dep %in% trail) visit(dep, c(trail, pkg))
      }
    }
    ordered <<- c(ordered, pkg)
  }
  for (pkg in closure) visit(pkg)
  for (pkg in ordered) {
    if (sufficient(pkg)) next
    if (!pkg %in% rownames(db)) {
      stop(sprintf("%s >= %s is needed but neither installed nor in %s", pkg, minimums[[pkg]], repo))
    }
    version <- db[pkg, "Version"]
    if (!is.na(minimums[pkg]) && package_version(version) < package_version(minimums[[pkg]])) {
      stop(sprintf("%s >= %s is needed but %s has %s", pkg, minimums[[pkg]], repo, version))
    }
    install_slot(pkg, version)
  }
}

if (!is.null(lock)) {
  if (!file.exists(lock)) fail(paste0(lock, ": lock file not found (run `make lock`, or pass - to resolve from the repository)"))
  install_locked(lock)
} else {
  install_resolved(unique(c(names(dmlp_required), extra_roots)))
}
message(sprintf("R packages ready in %s (%d compiled, %d linked from %s)", lib, compiled, linked, cache))
