# R engine of dml-parity: functions that Python calls through rpy2.
#
# Python builds the design matrix and draws the folds; these functions only translate them into
# DoubleML's objects, fit, and hand back numbers. Nothing here re-derives a column.

dmlp_setup <- function(script_dir = NULL) {
  suppressPackageStartupMessages({
    library(data.table)
    library(mlr3)
    library(mlr3learners)
    library(DoubleML)
  })
  # The project's own mlr3 learners (regr.lgbm, classif.lgbm); rpy2 gives sourced code no file
  # name, so Python passes the directory. Only where the optional lightgbm package is installed.
  # Installed, not loaded: every namespace loaded stays on R's heap and lengthens each garbage
  # collection of every fit (2-3 s per million-row OLS fit for the learners' packages, measured);
  # a learner loads its package when it first trains.
  if (!is.null(script_dir) && dmlp_installed("lightgbm")) {
    source(file.path(script_dir, "lgbm_learners.R"), local = globalenv())
  }
  # regr.cv_glmnet_shared: cv.glmnet on the tool's inner folds and grid (glmnet is required).
  if (!is.null(script_dir)) source(file.path(script_dir, "cv_glmnet_learner.R"), local = globalenv())
  # Bootstrap, joint inference and the SSM inner split with the tool's draws.
  if (!is.null(script_dir)) source(file.path(script_dir, "inference.R"), local = globalenv())
  # A spec's tune block: grid search on the tool's inner folds (dmlp_tune).
  if (!is.null(script_dir)) source(file.path(script_dir, "tuning.R"), local = globalenv())
  # mlr3 and bbotk log every fit at "info"; only warnings and errors are worth a user's eye.
  lgr::get_logger("mlr3")$set_threshold("warn")
  lgr::get_logger("bbotk")$set_threshold("warn")
  # mlr3's default of one future per fold is kept: one per resampling (mlr3.exec_chunk_bins = 1)
  # gave identical estimates but no faster R fits (bench/overhead/r_chunking.py).
  invisible(TRUE)
}

dmlp_installed <- function(package) nzchar(system.file(package = package))

# Versions from the installed DESCRIPTION files, without loading the namespaces (see dmlp_setup).
dmlp_versions <- function(packages) {
  vapply(packages, function(p) {
    if (dmlp_installed(p)) as.character(utils::packageVersion(p)) else NA_character_
  }, character(1))
}

dmlp_learner <- function(key, params, classif) {
  learner <- mlr3::lrn(key)
  if (length(params)) {
    learner$param_set$values <- mlr3misc::insert_named(learner$param_set$values, params)
  }
  if (classif) learner$predict_type <- "prob"
  learner
}

# x: the design as a named list of columns, each copied once from Python; setDT makes it a
# data.table in place, without another copy of the columns.
dmlp_data <- function(x, y, d, x_cols, z_cols, cluster_cols, s_col = NULL, other_treat = TRUE) {
  dt <- data.table::setDT(x)
  z <- if (length(z_cols)) z_cols else NULL
  if (!is.null(s_col)) {
    # DoubleML 1.0.2's nonignorable SSM score reads the treatment and selection columns by the
    # names `d` and `s` (double_ml_ssm.R: self$data$data$d + 2 * self$data$data$s): name them so,
    # and move any other column of those names out of the way.
    clash <- setdiff(intersect(c("d", "s"), names(dt)), c(d, s_col))
    if (length(clash)) {
      data.table::setnames(dt, clash, paste0(".dmlp_", clash))
      x_cols[x_cols %in% clash] <- paste0(".dmlp_", x_cols[x_cols %in% clash])
    }
    data.table::setnames(dt, c(d, s_col), c("d", "s"))
    d <- "d"
    s_col <- "s"
  }
  if (length(cluster_cols)) {
    DoubleML::DoubleMLClusterData$new(dt, y_col = y, d_cols = d, cluster_cols = cluster_cols,
                                      x_cols = x_cols, z_cols = z, s_col = s_col,
                                      use_other_treat_as_covariate = other_treat)
  } else {
    DoubleML::DoubleMLData$new(dt, y_col = y, d_cols = d, x_cols = x_cols, z_cols = z, s_col = s_col,
                               use_other_treat_as_covariate = other_treat)
  }
}

# The fields DoubleML 1.0.2's set_sample_splitting sets for cross-fitting folds, after its own
# check (checkmate on every fold: 1.8 s at a million rows). Python built and validated these folds
# (harness/design/splits.py); tests/test_splits_r.py proves both routes give bitwise the same fit.
# Another DoubleML version (the project installs 1.0.2) takes the checked route.
dmlp_hand_smpls <- function(obj, smpls) {
  if (utils::packageVersion("DoubleML") != "1.0.2") return(invisible(obj$set_sample_splitting(smpls)))
  private <- obj$.__enclos_env__$private
  private$n_rep_ <- length(smpls)
  private$n_folds_ <- length(smpls[[1]]$train_ids)
  private$apply_cross_fitting_ <- TRUE
  private$smpls_ <- smpls
  private$initialize_arrays()
  invisible(obj)
}

# The model object, with the harness's folds in place.
#   learners: named list, nuisance -> list(key = , params = , classif = )
#   smpls: list per repetition of list(train_ids, test_ids), 1-based (with clusters a training
#          set is not the complement of its test set, so both are sent)
#   smpls_cluster: NULL or DoubleML's list per repetition of cluster codes per fold
#   checked: TRUE to let DoubleML check the folds again (tests compare the two routes)
dmlp_model <- function(model, data, learners, score, n_folds, n_rep, smpls, smpls_cluster,
                       trimming_threshold, subgroups, partial = "X", checked = FALSE, normalize_ipw = FALSE) {
  ml <- lapply(learners, function(l) dmlp_learner(l$key, l$params, l$classif))
  args <- c(list(data = data), ml, list(n_folds = n_folds, n_rep = n_rep, score = score,
                                          draw_sample_splitting = FALSE))
  if (model %in% c("irm", "iivm", "ssm")) {
    args$trimming_threshold <- trimming_threshold
    args$trimming_rule <- "truncate"
  }
  if (model == "iivm" && !is.null(subgroups)) args$subgroups <- subgroups
  # Sent only when asked: older DoubleML releases (the version matrix) have no such argument.
  if (model == "ssm" && isTRUE(normalize_ipw)) args$normalize_ipw <- TRUE
  if (model == "pliv") {
    args$partialX <- partial %in% c("X", "XZ")
    args$partialZ <- partial %in% c("Z", "XZ")
  }
  cls <- switch(model, plr = DoubleMLPLR, pliv = DoubleMLPLIV, irm = DoubleMLIRM, iivm = DoubleMLIIVM,
                ssm = DoubleMLSSM)
  obj <- do.call(cls$new, args)
  if (is.null(smpls_cluster)) {
    if (checked) obj$set_sample_splitting(smpls) else dmlp_hand_smpls(obj, smpls)
  } else {
    # DoubleML 1.0.2 refuses set_sample_splitting on cluster data, yet its own cluster code reads
    # only these two fields; setting them gives R exactly the folds Python uses.
    private <- obj$.__enclos_env__$private
    private$smpls_ <- smpls
    private$smpls_cluster_ <- smpls_cluster
  }
  if (model == "pliv" && args$partialX && !args$partialZ && data$n_instr > 1) dmlp_keep_instrument_predictions(obj)
  obj
}

# PLIV partialling out X with several instruments: DoubleML 1.0.2 predicts every instrument from X
# but stores none of those predictions (its nuisance step returns them as one matrix named ml_m,
# which is not a learner of that model), so Python could only compare ml_l and ml_r, and its
# learner-free fit had to use its own instrument predictions. Stored here under ml_m_<instrument>,
# the names DoubleML gives those learners (and doubleml those predictions).
dmlp_keep_instrument_predictions <- function(obj) {
  private <- obj$.__enclos_env__$private
  store <- private$store_predictions
  if (!is.function(store)) return(invisible(NULL))  # a release that stores predictions otherwise
  z_cols <- obj$data$z_cols
  keeping <- function(preds) {
    if (is.matrix(preds$ml_m) && ncol(preds$ml_m) == length(z_cols)) {
      for (j in seq_along(z_cols)) preds[[paste0("ml_m_", z_cols[j])]] <- preds$ml_m[, j]
    }
    store(preds)
  }
  unlockBinding("store_predictions", private)  # R6 locks an object's methods
  assign("store_predictions", keeping, envir = private)
  lockBinding("store_predictions", private)
  invisible(NULL)
}

# The 0-based test fold of every row (n_obs x n_rep; -1 = in no test set), read back from the fitted
# object so that Python can check R used the folds it was given.
dmlp_fold_labels <- function(smpls, n_obs) {
  vapply(smpls, function(rep) {
    labels <- rep(-1L, n_obs)
    for (k in seq_along(rep$test_ids)) labels[rep$test_ids[[k]]] <- k - 1L
    labels
  }, integer(n_obs))
}

# One list per treatment: its numbers and its cross-fitted predictions (n_obs x n_rep each).
dmlp_treatment <- function(obj, i, ci) {
  preds <- lapply(obj$predictions, function(a) matrix(a[, , i], nrow = dim(a)[1]))
  list(
    coef = unname(obj$coef[i]), se = unname(obj$se[i]), t = unname(obj$t_stat[i]),
    p = unname(obj$pval[i]), ci = unname(as.numeric(ci[i, ])),
    coef_reps = as.numeric(obj$all_coef[i, ]), se_reps = as.numeric(obj$all_se[i, ]),
    predictions = preds
  )
}

dmlp_result <- function(obj) {
  ci <- obj$confint(level = 0.95)
  treatments <- lapply(seq_len(obj$data$n_treat), function(i) dmlp_treatment(obj, i, ci))
  c(list(folds = dmlp_fold_labels(obj$smpls, obj$data$n_obs), treatments = treatments), treatments[[1]])
}

#   inference: NULL, or list(method, n_rep_boot, weights (list per repetition of n_rep_boot x n_obs
#              matrices), joint, p_adjust, own_draws)
#   inner_splits: NULL, or the SSM nonignorable split per training fold (inference.R)
#   tune: NULL, or the tune block's searches (tuning.R)
#   fold_params: NULL, or per nuisance, repetition and fold the learner's parameters (tuning.R)
dmlp_fit <- function(model, x, y, d, x_cols, z_cols, cluster_cols, learners, score, n_folds, n_rep,
                     smpls, smpls_cluster, trimming_threshold, subgroups, seed, s_col = NULL,
                     partial = "X", inference = NULL, inner_splits = NULL, checked = FALSE, tune = NULL,
                     normalize_ipw = FALSE, other_treat = TRUE, fold_params = NULL) {
  # Learners that draw random numbers (ranger, nnet, cv_glmnet) take them from R's stream.
  set.seed(seed)
  data <- dmlp_data(x, y, d, x_cols, z_cols, cluster_cols, s_col, other_treat)
  obj <- dmlp_model(model, data, learners, score, n_folds, n_rep, smpls, smpls_cluster,
                    trimming_threshold, subgroups, partial, checked, normalize_ipw)
  # Cross-validated learners on shared inner folds report what they chose from their models.
  inner_cv <- any(vapply(learners, function(l) l$key == "regr.cv_glmnet_shared", logical(1)))
  tuned <- if (is.null(tune)) NULL else dmlp_tune(obj, data$data, x_cols, d, tune, n_rep, n_folds)
  # The data's own treatment name: an SSM's is renamed `d` (dmlp_data).
  if (!is.null(fold_params)) for (treat in obj$data$d_cols) dmlp_set_fold_params(obj, treat, fold_params[[treat]])
  fit <- function() obj$fit(store_predictions = TRUE, store_models = inner_cv)
  if (!is.null(inner_splits)) {
    plain <- fit
    fit <- function() dmlp_with_inner_splits(inner_splits, plain)
  }
  if (!is.null(tuned) || !is.null(fold_params)) {
    shared <- fit
    fit <- function() dmlp_with_deep_learner_clones(shared)
  }
  # What R's learners warned (glm: "fitted probabilities numerically 0 or 1 occurred", "algorithm
  # did not converge"; glmnet: a lambda not reached) goes back with the result, as Python's solver
  # warnings do: a reason an exact pair may not agree.
  warned <- character()
  withCallingHandlers(fit(), warning = function(w) {
    warned <<- c(warned, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  out <- dmlp_result(obj)
  out$warnings <- warned
  if (inner_cv) out$inner_cv <- dmlp_inner_cv(obj)
  if (!is.null(tuned)) out$tuned <- tuned
  if (!is.null(inference)) out$inference <- dmlp_inference(obj, inference, seed)
  out
}
