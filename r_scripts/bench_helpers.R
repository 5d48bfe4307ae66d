# Helpers for bench/learner_pairs/learner_pairs.py: fit one mlr3 learner on a matrix and predict, outside DoubleML.
# Independent of engine.R; the learners (including lgbm_learners.R) must already be registered.

# key, params: as harness.language.learners.ResolvedLearner.r_learner gives them; x_*: numeric matrices with
# column names; y: numeric (0/1 for a classifier). Returns predictions (P(y = 1) for a classifier).
dmlp_bench_fit_predict <- function(key, params, classif, x_train, y_train, x_test) {
  learner <- mlr3::lrn(key)
  if (length(params)) learner$param_set$values <- mlr3misc::insert_named(learner$param_set$values, params)
  train <- data.table::as.data.table(x_train)
  test <- data.table::as.data.table(x_test)
  if (classif) {
    learner$predict_type <- "prob"
    train$.y <- factor(y_train, levels = c(0, 1))
    test$.y <- factor(rep(0, nrow(x_test)), levels = c(0, 1))
    task <- mlr3::TaskClassif$new("train", train, target = ".y", positive = "1")
    new_task <- mlr3::TaskClassif$new("test", test, target = ".y", positive = "1")
    learner$train(task)
    as.numeric(learner$predict(new_task)$prob[, "1"])
  } else {
    train$.y <- y_train
    test$.y <- rep(0, nrow(x_test))
    task <- mlr3::TaskRegr$new("train", train, target = ".y")
    learner$train(task)
    as.numeric(learner$predict(mlr3::TaskRegr$new("test", test, target = ".y"))$response)
  }
}

# Ablations: lgb.train and e1071::svm called directly with exactly the given parameters, so the
# bench can show which settings the pairs need (R's wrapper defaults apply to whatever is left out).
dmlp_bench_lgb_raw <- function(x_train, y_train, x_test, params, nrounds) {
  data <- lightgbm::lgb.Dataset(x_train, label = y_train, params = params)
  model <- lightgbm::lgb.train(params = params, data = data, nrounds = as.integer(nrounds), verbose = -1L)
  as.numeric(predict(model, x_test))
}

dmlp_bench_svm_raw <- function(x_train, y_train, x_test, args) {
  model <- do.call(e1071::svm, c(list(x = x_train, y = y_train), args))
  as.numeric(predict(model, x_test))
}
