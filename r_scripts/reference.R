# A plain DoubleML script with no dml-parity code in it: reads the raw CSV itself, keeps the rows
# and folds a dml-parity run recorded in results.json, and fits PLR with OLS learners. Tests and
# benchmarks use it as the independent R reference.
#
#   Rscript r_scripts/reference.R <csv> <results.json> <spec id> <y> <d> <x1,x2,...>

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
  rows <- unlist(spec$rows) + 1L
  data <- data.table::fread(csv)[rows]
  obj_data <- DoubleMLData$new(data, y_col = y, d_cols = d, x_cols = x_cols)
  smpls <- lapply(spec$folds, function(fold_of_row) {
    fold_of_row <- unlist(fold_of_row)
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
