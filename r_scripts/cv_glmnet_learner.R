# mlr3 learner regr.cv_glmnet_shared: cv.glmnet on the tool's inner folds and penalty grid.
#
# The twin of harness/engines/shared_cv.py (scikit-learn's LassoCV). What it receives:
#   row_order: every design row's place in the tool's random order (0-based, one per row);
#              the inner folds of a training set are its rows in that order, dealt round-robin
#              into nfolds folds (harness/design/inner_folds.py), found here from task$row_ids,
#              which DoubleML keeps as the design's row numbers.
#   lambda:    the grid; without one, scikit-learn's default formula on the training set (below).
# cv.glmnet fits the folds (foldid =, lambda =, keep = TRUE); the penalty is then chosen by
# scikit-learn's rule from glmnet's own out-of-fold predictions: each fold's mean squared error,
# averaged over folds with equal weight, first minimum on the decreasing grid. glmnet's lambda.min
# weights folds by their size (the pooled MSE), which differs when fold sizes differ; it is kept as
# `lambda_min` for comparison. The final model is glmnet's fit on the whole training set at the
# chosen lambda: the lasso pair's problem (1/2n RSS + lambda |b|_1, standardize = FALSE).

dmlp_cv_glmnet_param_set <- function() {
  paradox::ps(
    nfolds = paradox::p_int(lower = 3L, default = 5L, tags = "train"),
    lambda = paradox::p_uty(default = NULL, tags = "train"),
    nlambda = paradox::p_int(lower = 2L, default = 100L, tags = "train"),
    eps = paradox::p_dbl(lower = 0, upper = 1, default = 1e-3, tags = "train"),
    thresh = paradox::p_dbl(lower = 0, default = 1e-7, tags = "train"),
    maxit = paradox::p_int(lower = 1L, default = 100000L, tags = "train"),
    row_order = paradox::p_uty(tags = c("train", "required"))
  )
}

# 1-based inner fold of each training row: its rows sorted by the tool's order, dealt round-robin.
dmlp_inner_foldid <- function(rows, row_order, nfolds) {
  ranks <- integer(length(rows))
  ranks[order(row_order[rows])] <- seq_along(rows) - 1L
  ranks %% nfolds + 1L
}

# scikit-learn's default LassoCV grid (sklearn/linear_model/_coordinate_descent.py _alpha_grid and
# numpy.geomspace): alpha_max = max |x_j'(y - mean y)| / n, columns centred, down to eps * alpha_max.
dmlp_default_grid <- function(x, y, nlambda, eps) {
  xc <- sweep(x, 2L, colMeans(x))
  alpha_max <- max(abs(crossprod(xc, y - mean(y)))) / length(y)
  grid <- 10^seq(log10(alpha_max), log10(alpha_max * eps), length.out = nlambda)
  grid[1L] <- alpha_max
  grid[nlambda] <- alpha_max * eps
  grid
}

LearnerRegrCvGlmnetShared <- R6::R6Class("LearnerRegrCvGlmnetShared",
  inherit = mlr3::LearnerRegr,
  public = list(
    initialize = function() {
      super$initialize(
        id = "regr.cv_glmnet_shared",
        param_set = dmlp_cv_glmnet_param_set(),
        predict_types = "response",
        feature_types = c("integer", "numeric"),
        packages = "glmnet",
        label = "cv.glmnet on shared inner folds (dml-parity)"
      )
    }
  ),
  private = list(
    .train = function(task) {
      pv <- self$param_set$get_values(tags = "train")
      nfolds <- if (is.null(pv$nfolds)) 5L else as.integer(pv$nfolds)
      features <- intersect(task$backend$colnames, task$feature_names)
      x <- as.matrix(task$data(cols = features))
      storage.mode(x) <- "double"
      y <- as.numeric(task$truth())
      rows <- task$row_ids
      foldid <- dmlp_inner_foldid(rows, pv$row_order, nfolds)
      grid <- if (is.null(pv$lambda)) {
        dmlp_default_grid(x, y, if (is.null(pv$nlambda)) 100L else pv$nlambda, if (is.null(pv$eps)) 1e-3 else pv$eps)
      } else {
        sort(as.numeric(pv$lambda), decreasing = TRUE)
      }
      # glmnet stops a path early once the deviance barely moves; every grid value must be fitted.
      glmnet::glmnet.control(fdev = 0, devmax = 1)
      on.exit(glmnet::glmnet.control(factory = TRUE), add = TRUE)
      cv <- glmnet::cv.glmnet(x, y, foldid = foldid, lambda = grid, alpha = 1, family = "gaussian",
                              standardize = FALSE, keep = TRUE,
                              thresh = if (is.null(pv$thresh)) 1e-7 else pv$thresh,
                              maxit = if (is.null(pv$maxit)) 100000L else as.integer(pv$maxit))
      if (length(cv$lambda) != length(grid)) stop("cv.glmnet fitted fewer lambdas than the grid holds")
      err <- (y - cv$fit.preval)^2
      fold_mse <- rowsum(err, foldid) / as.vector(table(foldid))
      best <- which.min(colMeans(fold_mse))
      fit <- cv$glmnet.fit
      list(a0 = unname(fit$a0[best]), beta = as.numeric(fit$beta[, best]), features = features,
           lambda = cv$lambda[best], lambda_min = cv$lambda.min, rows = rows, foldid = foldid)
    },
    .predict = function(task) {
      x <- as.matrix(task$data(cols = self$model$features))
      storage.mode(x) <- "double"
      list(response = as.numeric(self$model$a0 + x %*% self$model$beta))
    }
  )
)

mlr3::mlr_learners$add("regr.cv_glmnet_shared", LearnerRegrCvGlmnetShared)

# What every fitted regr.cv_glmnet_shared of a fitted DoubleML object chose and used, per nuisance:
# alpha (n_rep x n_folds), lambda_min (glmnet's own rule, same shape) and folds (n_obs x n_folds x
# n_rep: each row's 0-based inner fold, -1 outside the training set). First treatment only.
dmlp_inner_cv <- function(obj) {
  n_obs <- obj$data$n_obs
  out <- list()
  for (name in names(obj$models)) {
    reps <- obj$models[[name]][[1L]]
    first <- reps[[1L]][[1L]]
    if (!inherits(first, "LearnerRegrCvGlmnetShared")) next
    n_rep <- length(reps)
    n_folds <- length(reps[[1L]])
    alpha <- matrix(NA_real_, n_rep, n_folds)
    lambda_min <- matrix(NA_real_, n_rep, n_folds)
    folds <- array(-1L, c(n_obs, n_folds, n_rep))
    for (r in seq_len(n_rep)) for (k in seq_len(n_folds)) {
      m <- reps[[r]][[k]]$model
      alpha[r, k] <- m$lambda
      lambda_min[r, k] <- m$lambda_min
      folds[m$rows, k, r] <- m$foldid - 1L
    }
    out[[name]] <- list(alpha = alpha, lambda_min = lambda_min, folds = folds)
  }
  out
}
