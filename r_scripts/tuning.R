# A spec's tune block in R: mlr3tuning's grid search on the tool's inner folds, then DoubleML's
# set_ml_nuisance_params with the chosen point per repetition and fold.
#
# The twin of harness/engines/python_tuning.py. DoubleML 1.0.2's tune() takes one Resampling for
# all training sets (tune_settings$rsmp_tune), while the tool's inner folds differ from one
# training set to the next; so the search runs here, once per set, on a custom resampling
# instantiated with that set's inner folds. The grid is one factor parameter, `candidate`, whose
# levels are the grid's points in the tool's order; a transformation turns a level into that point's
# values (already translated to mlr3's names by Python), so R tries exactly Python's values. The
# criterion is regr.mse or classif.logloss averaged over inner folds; the first best point in grid
# order wins (scikit-learn's rule), read from the archive rather than from the tuner's own pick.
#
#   request: list per fitted nuisance of list(name, target, classif, key, params, candidates,
#            sets = list per repetition of list per fold of list(rows, folds)), rows and inner
#            folds 1-based.

dmlp_tune_task <- function(dt, x_cols, target, rows, classif) {
  data <- dt[rows, c(x_cols, target), with = FALSE]
  if (classif) {
    data[[target]] <- factor(data[[target]])
    return(mlr3::TaskClassif$new(id = "tune", backend = data, target = target))
  }
  mlr3::TaskRegr$new(id = "tune", backend = data, target = target)
}

# One search: the chosen point (0-based), every point's criterion, and the inner folds as the
# instantiated resampling holds them (0-based, per row of the set), for Python to check.
dmlp_tune_search <- function(dt, x_cols, request, set) {
  task <- dmlp_tune_task(dt, x_cols, request$target, set$rows, request$classif)
  k <- max(set$folds)
  resampling <- mlr3::rsmp("custom")
  resampling$instantiate(task,
    train_sets = lapply(seq_len(k), function(j) which(set$folds != j)),
    test_sets = lapply(seq_len(k), function(j) which(set$folds == j)))
  points <- request$candidates
  space <- paradox::ps(
    candidate = paradox::p_fct(levels = as.character(seq_along(points))),
    .extra_trafo = function(x, param_set) points[[as.integer(x$candidate)]]
  )
  measure <- mlr3::msr(if (request$classif) "classif.logloss" else "regr.mse")
  instance <- mlr3tuning::ti(
    task = task, learner = dmlp_learner(request$key, request$params, request$classif),
    resampling = resampling, measures = measure, terminator = bbotk::trm("none"), search_space = space
  )
  mlr3tuning::tnr("grid_search")$optimize(instance)
  archive <- data.table::as.data.table(instance$archive)
  score <- rep(NA_real_, length(points))
  score[as.integer(as.character(archive$candidate))] <- archive[[measure$id]]
  folds <- integer(length(set$rows))
  for (j in seq_len(k)) folds[resampling$test_set(j)] <- j - 1L
  list(choice = which.min(score) - 1L, score = score, folds = folds)
}

# Search every set of every request, set the chosen points on obj (fold-specific for every
# nuisance: DoubleML switches all learners to fold-specific parameters at once); returns per
# fitted nuisance the choices, criteria and inner folds as flat vectors, repetition-major.
dmlp_tune <- function(obj, dt, x_cols, treat, requests, n_rep, n_folds) {
  n_obs <- nrow(dt)
  chosen <- list()
  out <- list()
  for (request in requests) {
    found <- lapply(request$sets, function(rep) lapply(rep, function(set) dmlp_tune_search(dt, x_cols, request, set)))
    flat <- unlist(found, recursive = FALSE)
    folds <- unlist(lapply(seq_along(flat), function(i) {
      labels <- rep(-1L, n_obs)
      set <- unlist(request$sets, recursive = FALSE)[[i]]
      labels[set$rows] <- flat[[i]]$folds
      labels
    }))
    out[[request$name]] <- list(
      choice = vapply(flat, function(f) f$choice, integer(1)),
      score = unlist(lapply(flat, function(f) f$score)),
      folds = folds
    )
    pick <- function(r, k) {
      rr <- min(r, length(found))
      kk <- min(k, length(found[[rr]]))
      request$candidates[[found[[rr]][[kk]]$choice + 1L]]
    }
    chosen[[request$name]] <- lapply(seq_len(n_rep), function(r) lapply(seq_len(n_folds), function(k) pick(r, k)))
  }
  dmlp_set_fold_params(obj, treat, chosen)
  out
}

# Per nuisance, repetition and fold the learner's parameters (the tune block's choices, a spec's
# fold_params), set on obj: every nuisance fold-specific, one without given parameters keeps its own.
# The model's own counts: with two cluster variables it cross-fits on n_folds^2 cells.
dmlp_set_fold_params <- function(obj, treat, fold_params) {
  n_rep <- obj$n_rep
  n_folds <- obj$n_folds
  # A named empty list: SSM nonignorable lays each fold's parameters over its learner's with
  # mlr3misc::insert_named, which refuses an unnamed one.
  none <- stats::setNames(list(), character(0))
  for (name in obj$params_names()) {
    params <- fold_params[[name]]
    if (is.null(params)) params <- rep(list(rep(list(none), n_folds)), n_rep)
    obj$set_ml_nuisance_params(name, treat, params, set_fold_specific = TRUE)
  }
}

# DoubleML 1.0.2 fits fold-specific parameters with one learner per fold, each from
# initiate_learner(), which copies the learner with a shallow learner$clone(): the copies share one
# mlr3 param_set, so every fold is fitted with the last fold's values (measured on wage1: R fitted
# all five folds at the penalty chosen for the fifth; README "Tuned learners"). For a tuned fit the
# learner is deep-cloned first, for the duration of the fit only.
dmlp_with_deep_learner_clones <- function(fit) {
  original <- get("initiate_learner", envir = asNamespace("DoubleML"))
  deep <- function(learner, task_type, params, return_train_preds = FALSE) {
    original(learner$clone(deep = TRUE), task_type, params, return_train_preds)
  }
  utils::assignInNamespace("initiate_learner", deep, ns = "DoubleML")
  on.exit(utils::assignInNamespace("initiate_learner", original, ns = "DoubleML"), add = TRUE)
  fit()
}
