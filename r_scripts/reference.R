# A plain DoubleML script with no dml-parity code in it: reads the raw CSV itself, keeps the rows
# and folds a dml-parity run recorded (arrays.npz beside results.json, see README "How to read the
# output"), and fits PLR with OLS learners. Tests and benchmarks use it as the independent R reference.
#
#   Rscript r_scripts/reference.R <csv> <results.json> <spec id> <y> <d> <x1,x2,...>

# One array of a .npy file (numpy's format 1.0-3.0, little-endian integers as dml-parity writes them).
read_npy <- function(path) {
  con <- file(path, "rb")
  on.exit(close(con))
  if (!identical(readBin(con, "raw", 6), as.raw(c(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)))) stop(path, ": not a .npy file")
  major <- readBin(con, "integer", 1, size = 1, signed = FALSE)
  readBin(con, "integer", 1, size = 1, signed = FALSE)
  header_len <- if (major == 1) {
    readBin(con, "integer", 1, size = 2, signed = FALSE, endian = "little")
  } else {
    readBin(con, "integer", 1, size = 4, endian = "little")
  }
  header <- rawToChar(readBin(con, "raw", header_len))
  descr <- sub(".*'descr': *'([^']+)'.*", "\\1", header)
  size <- as.integer(sub("^[<|]i", "", descr))
  if (!grepl("^[<|]i[124]$", descr)) stop(path, ": unsupported type ", descr)
  shape <- as.integer(strsplit(sub(".*'shape': *\\(([^)]*)\\).*", "\\1", header), ",")[[1]])
  values <- readBin(con, "integer", prod(shape), size = size, signed = TRUE, endian = "little")
  if (length(shape) == 2) matrix(values, nrow = shape[1], byrow = TRUE) else values
}

# The rows (0-based) and folds (n_rep x n_obs, 0-based) of one spec of a run.
read_run_arrays <- function(results_json, spec) {
  results <- jsonlite::fromJSON(results_json, simplifyVector = FALSE)
  npz <- file.path(dirname(results_json), results$arrays$path)
  dir <- tempfile("dmlp_arrays")
  on.exit(unlink(dir, recursive = TRUE))
  members <- paste0(c(spec$arrays$rows, spec$arrays$folds), ".npy")
  utils::unzip(npz, files = members, exdir = dir)
  folds <- read_npy(file.path(dir, members[[2]]))
  if (is.null(dim(folds))) folds <- matrix(folds, nrow = 1)
  list(rows = read_npy(file.path(dir, members[[1]])), folds = folds)
}

reference_plr <- function(csv, results_json, spec_id, y, d, x_cols) {
  suppressPackageStartupMessages({
    library(data.table)
    library(mlr3)
    library(mlr3learners)
    library(DoubleML)
  })
  lgr::get_logger("mlr3")$set_threshold("warn")
  results <- jsonlite::fromJSON(results_json, simplifyVector = FALSE)
  spec <- Filter(function(s) s$id == spec_id, results$specs)[[1]]
  arrays <- read_run_arrays(results_json, spec)
  data <- data.table::fread(csv)[arrays$rows + 1L]
  obj_data <- DoubleMLData$new(data, y_col = y, d_cols = d, x_cols = x_cols)
  smpls <- lapply(seq_len(nrow(arrays$folds)), function(rep) {
    fold_of_row <- arrays$folds[rep, ]
    folds <- sort(unique(fold_of_row))
    list(train_ids = lapply(folds, function(k) which(fold_of_row != k)),
         test_ids = lapply(folds, function(k) which(fold_of_row == k)))
  })
  plr <- DoubleMLPLR$new(obj_data, ml_l = lrn("regr.lm"), ml_m = lrn("regr.lm"),
                         n_folds = length(smpls[[1]]$test_ids), n_rep = length(smpls))
  plr$set_sample_splitting(smpls)
  plr$fit()
  c(coef = unname(plr$coef), se = unname(plr$se))
}

if (sys.nframe() == 0L) {
  args <- commandArgs(trailingOnly = TRUE)
  out <- reference_plr(args[[1]], args[[2]], args[[3]], args[[4]], args[[5]], strsplit(args[[6]], ",")[[1]])
  cat(sprintf("%.17g %.17g\n", out[["coef"]], out[["se"]]))
}
