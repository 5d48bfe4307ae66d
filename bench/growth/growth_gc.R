# R's garbage-collection time in a million-row OLS fit with and without the learners' namespaces
# loaded (issue 14: why the tool's R engine no longer loads them up front).
#
#   OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 Rscript bench/growth/growth_gc.R CSV [load]
#
# With "load", ranger, glmnet, rpart, nnet, e1071, lightgbm and mlr3tuning are loaded and the
# project's LightGBM learners sourced first (what the tool's R session did before). Two fits each.
args <- commandArgs(trailingOnly = TRUE)
.libPaths(c(".rlib", .libPaths()))
suppressPackageStartupMessages({library(data.table); library(mlr3); library(mlr3learners); library(DoubleML)})
lgr::get_logger("mlr3")$set_threshold("warn")
if (length(args) > 1 && args[[2]] == "load") {
  for (p in c("ranger", "glmnet", "rpart", "nnet", "e1071", "lightgbm", "mlr3tuning")) loadNamespace(p)
  source("r_scripts/lgbm_learners.R")
}
dt <- fread(args[[1]])
dt[, names(dt) := lapply(.SD, as.numeric)]
for (i in 1:2) {
  set.seed(1)
  g0 <- gc.time()[1]
  t0 <- proc.time()[["elapsed"]]
  data <- DoubleMLData$new(dt, y_col = "nettfa", d_cols = "e401k", x_cols = c("inc", "age", "fsize", "marr", "male", "pira"))
  obj <- DoubleMLPLR$new(data, ml_l = lrn("regr.lm"), ml_m = lrn("regr.lm"), n_folds = 5)
  obj$fit(store_predictions = TRUE)
  cat(sprintf("fit %d: %.1f s, of which garbage collection %.1f s\n", i, proc.time()[["elapsed"]] - t0, gc.time()[1] - g0))
  rm(obj, data)
  invisible(gc())
}
