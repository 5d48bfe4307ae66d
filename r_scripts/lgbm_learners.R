# mlr3 learners for LightGBM: regr.lgbm and classif.lgbm (mlr3learners has none).
#
# They call lgb.train with exactly the parameters they are given, in LightGBM's own names; the
# harness (harness/language/learners.py) translates the scikit-learn vocabulary and always sends every
# setting, so R's wrapper defaults never decide a number. The features reach LightGBM as the
# float64 matrix Python builds, in the data's own column order (see dmlp_lgbm_features).

dmlp_lgbm_param_set <- function() {
  paradox::ps(
    num_iterations = paradox::p_int(lower = 1L, default = 100L, tags = "train"),
    learning_rate = paradox::p_dbl(lower = 0, default = 0.1, tags = "train"),
    num_leaves = paradox::p_int(lower = 2L, upper = 131072L, default = 31L, tags = "train"),
    max_depth = paradox::p_int(default = -1L, tags = "train"),
    min_data_in_leaf = paradox::p_int(lower = 0L, default = 20L, tags = "train"),
    min_sum_hessian_in_leaf = paradox::p_dbl(lower = 0, default = 1e-3, tags = "train"),
    min_gain_to_split = paradox::p_dbl(lower = 0, default = 0, tags = "train"),
    bagging_fraction = paradox::p_dbl(lower = 0, upper = 1, default = 1, tags = "train"),
    bagging_freq = paradox::p_int(lower = 0L, default = 0L, tags = "train"),
    feature_fraction = paradox::p_dbl(lower = 0, upper = 1, default = 1, tags = "train"),
    lambda_l2 = paradox::p_dbl(lower = 0, default = 0, tags = "train"),
    lambda_l1 = paradox::p_dbl(lower = 0, default = 0, tags = "train"),
    bin_construct_sample_cnt = paradox::p_int(lower = 1L, default = 200000L, tags = "train"),
    min_data_in_bin = paradox::p_int(lower = 1L, default = 3L, tags = "train"),
    max_bin = paradox::p_int(lower = 2L, default = 255L, tags = "train"),
    boost_from_average = paradox::p_lgl(default = TRUE, tags = "train"),
    seed = paradox::p_int(tags = "train"),
    deterministic = paradox::p_lgl(default = FALSE, tags = "train"),
    force_col_wise = paradox::p_lgl(default = FALSE, tags = "train"),
    num_threads = paradox::p_int(lower = 0L, default = 0L, tags = "train"),
    verbose = paradox::p_int(default = 1L, tags = "train")
  )
}

# One booster from a numeric matrix; `objective` is fixed by the learner class.
dmlp_lgbm_train <- function(x, label, pv, objective) {
  params <- c(pv, list(objective = objective))
  params$num_iterations <- NULL
  nrounds <- if (is.null(pv$num_iterations)) 100L else as.integer(pv$num_iterations)
  verbose <- if (is.null(pv$verbose)) -1L else as.integer(pv$verbose)
  params$verbose <- NULL
  data <- lightgbm::lgb.Dataset(x, label = label, params = params)
  lightgbm::lgb.train(params = params, data = data, nrounds = nrounds, verbose = verbose)
}

# mlr3 sorts task$feature_names alphabetically, but LightGBM breaks ties between equal-gain splits
# by feature position and samples columns (feature_fraction) by position: the matrix must keep the
# data's column order, which is the order Python fits on (the backend keeps it).
dmlp_lgbm_features <- function(task) {
  intersect(task$backend$colnames, task$feature_names)
}

dmlp_lgbm_matrix <- function(task, cols) {
  x <- as.matrix(task$data(cols = cols))
  storage.mode(x) <- "double"
  x
}

LearnerRegrLgbm <- R6::R6Class("LearnerRegrLgbm",
  inherit = mlr3::LearnerRegr,
  public = list(
    initialize = function() {
      super$initialize(
        id = "regr.lgbm",
        param_set = dmlp_lgbm_param_set(),
        predict_types = "response",
        feature_types = c("integer", "numeric"),
        packages = "lightgbm",
        label = "LightGBM regression (dml-parity)"
      )
    }
  ),
  private = list(
    .train = function(task) {
      pv <- self$param_set$get_values(tags = "train")
      features <- dmlp_lgbm_features(task)
      booster <- dmlp_lgbm_train(dmlp_lgbm_matrix(task, features), task$truth(), pv, "regression")
      list(booster = booster, features = features)
    },
    .predict = function(task) {
      x <- dmlp_lgbm_matrix(task, self$model$features)
      list(response = as.numeric(predict(self$model$booster, x)))
    }
  )
)

LearnerClassifLgbm <- R6::R6Class("LearnerClassifLgbm",
  inherit = mlr3::LearnerClassif,
  public = list(
    initialize = function() {
      super$initialize(
        id = "classif.lgbm",
        param_set = dmlp_lgbm_param_set(),
        predict_types = c("response", "prob"),
        feature_types = c("integer", "numeric"),
        properties = "twoclass",
        packages = "lightgbm",
        label = "LightGBM binary classification (dml-parity)"
      )
    }
  ),
  private = list(
    .train = function(task) {
      pv <- self$param_set$get_values(tags = "train")
      # LightGBM's label 1 is the task's positive class (DoubleML makes it "1"), as scikit-learn's
      # LabelEncoder makes the larger class 1, so predict() is P(positive) on both sides.
      label <- as.numeric(task$truth() == task$positive)
      features <- dmlp_lgbm_features(task)
      booster <- dmlp_lgbm_train(dmlp_lgbm_matrix(task, features), label, pv, "binary")
      list(booster = booster, features = features)
    },
    .predict = function(task) {
      x <- dmlp_lgbm_matrix(task, self$model$features)
      p <- as.numeric(predict(self$model$booster, x))
      lvls <- c(task$positive, task$negative)
      if (self$predict_type == "response") {
        return(list(response = factor(ifelse(p >= 0.5, lvls[1L], lvls[2L]), levels = task$class_names)))
      }
      prob <- cbind(p, 1 - p)
      colnames(prob) <- lvls
      list(prob = prob)
    }
  )
)

mlr3::mlr_learners$add("regr.lgbm", LearnerRegrLgbm)
mlr3::mlr_learners$add("classif.lgbm", LearnerClassifLgbm)
