# A plain R DoubleML script: fits the specs that bench/overhead/run_bench.py exported (design matrices as
# CSV, folds as JSON, mlr3 learner keys and parameters as JSON) and nothing else. It is the R half of
# the "bare scripts" the tool's wall time is compared with.
#
#   Rscript bench/bare_r.R MANIFEST_JSON OUT_JSON R_LIBRARY R_SCRIPTS_DIR

start <- proc.time()[["elapsed"]]
args <- commandArgs(trailingOnly = TRUE)
manifest_path <- args[[1]]
export <- dirname(manifest_path)
out_json <- args[[2]]
.libPaths(c(args[[3]], .libPaths()))
suppressPackageStartupMessages({
  library(data.table)
  library(jsonlite)
  library(mlr3)
  library(mlr3learners)
  library(DoubleML)
})
lgr::get_logger("mlr3")$set_threshold("warn")
manifest <- fromJSON(manifest_path, simplifyVector = FALSE)
keys <- unlist(lapply(manifest$specs, function(s) vapply(s$r_learners, function(l) l$key, "")))
# regr.lgbm / classif.lgbm are the project's own mlr3 learners; only source them when used.
if (any(grepl("lgbm", keys))) source(file.path(args[[4]], "lgbm_learners.R"))
loaded <- proc.time()[["elapsed"]]

make_learner <- function(l) {
  learner <- lrn(l$key)
  params <- l$params
  if (length(params)) learner$param_set$values <- mlr3misc::insert_named(learner$param_set$values, params)
  if (isTRUE(l$classif)) learner$predict_type <- "prob"
  learner
}

# JSON arrays of arrays stay lists of vectors (never matrices: equal-sized folds would collapse).
read_folds <- function(path) {
  fromJSON(path, simplifyVector = TRUE, simplifyDataFrame = FALSE, simplifyMatrix = FALSE)
}

fit_spec <- function(s) {
  t0 <- proc.time()[["elapsed"]]
  dt <- fread(file.path(export, s$csv))
  dt[, names(dt) := lapply(.SD, as.numeric)]
  # "folds": null lets DoubleML draw its own folds, as a plain script would (bench/growth/growth.py).
  folds <- if (is.null(s$folds)) NULL else read_folds(file.path(export, s$folds))
  t1 <- proc.time()[["elapsed"]]
  set.seed(s$seed)
  x_cols <- unlist(s$x)
  z_cols <- if (length(s$z)) unlist(s$z) else NULL
  if (length(s$cluster)) {
    data <- DoubleMLClusterData$new(dt, y_col = s$y, d_cols = s$d, cluster_cols = unlist(s$cluster),
                                    x_cols = x_cols, z_cols = z_cols)
  } else {
    data <- DoubleMLData$new(dt, y_col = s$y, d_cols = s$d, x_cols = x_cols, z_cols = z_cols)
  }
  ml <- lapply(s$r_learners, make_learner)
  margs <- c(list(data = data), ml, list(n_folds = s$n_folds, n_rep = s$n_rep, score = s$score,
                                         draw_sample_splitting = is.null(folds)))
  if (s$model %in% c("irm", "iivm")) {
    margs$trimming_threshold <- s$trimming_threshold
    margs$trimming_rule <- "truncate"
  }
  if (s$model == "iivm" && length(s$subgroups)) margs$subgroups <- s$subgroups
  cls <- switch(s$model, plr = DoubleMLPLR, pliv = DoubleMLPLIV, irm = DoubleMLIRM, iivm = DoubleMLIIVM)
  obj <- do.call(cls$new, margs)
  if (!is.null(folds)) {
    smpls <- lapply(folds$smpls, function(rep) {
      list(train_ids = lapply(rep$train, function(v) as.integer(v) + 1L),
           test_ids = lapply(rep$test, function(v) as.integer(v) + 1L))
    })
    if (is.null(folds$smpls_cluster)) {
      obj$set_sample_splitting(smpls)
    } else {
      # DoubleML 1.0.2 refuses set_sample_splitting on cluster data; its cluster code reads these two.
      private <- obj$.__enclos_env__$private
      private$smpls_ <- smpls
      private$smpls_cluster_ <- lapply(folds$smpls_cluster, function(rep) {
        list(train_ids = lapply(rep$train, function(f) lapply(f, as.numeric)),
             test_ids = lapply(rep$test, function(f) lapply(f, as.numeric)))
      })
    }
  }
  obj$fit(store_predictions = TRUE)
  t2 <- proc.time()[["elapsed"]]
  list(id = s$id, coef = unname(obj$coef[1]), se = unname(obj$se[1]), read_s = t1 - t0, fit_s = t2 - t1)
}

results <- lapply(manifest$specs, fit_spec)
write_json(list(import_s = loaded - start, total_s = proc.time()[["elapsed"]] - start, specs = results),
           out_json, auto_unbox = TRUE, digits = I(17))
