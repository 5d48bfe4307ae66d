# Propensity forests in ranger as the tool builds them (dmlp_learner of engine.R), for
# bench/replicates/replicate_forest_probe.py: test-fold propensities and the shape of the trees.

# x: numeric matrix with column names; d: 0/1 treatment; train, test: 1-based rows;
# params: classif.ranger's parameters as harness/language/learners.py translates them.
probe_ranger <- function(x, d, train, test, params) {
  dt <- data.table::as.data.table(x)
  dt$d <- factor(d, levels = c(0, 1))
  task <- mlr3::TaskClassif$new("probe", backend = dt, target = "d", positive = "1")
  learner <- dmlp_learner("classif.ranger", params, TRUE)
  learner$train(task, row_ids = train)
  propensity <- learner$predict(task, row_ids = test)$prob[, "1"]
  trees <- lapply(seq_len(learner$model$num.trees), function(k) ranger::treeInfo(learner$model, k))
  depth <- vapply(trees, function(ti) {
    level <- integer(nrow(ti))
    for (i in seq_len(nrow(ti))) {
      if (!ti$terminal[i]) level[c(ti$leftChild[i], ti$rightChild[i]) + 1] <- level[i] + 1L
    }
    max(level)
  }, numeric(1))
  leaves <- vapply(trees, function(ti) sum(ti$terminal), numeric(1))
  pure <- vapply(trees, function(ti) mean(ti[ti$terminal, "pred.1"] %in% c(0, 1)), numeric(1))
  list(propensity = propensity, depth = mean(depth), leaves = mean(leaves), pure = mean(pure))
}

# For bench/learner_pairs/forest_leaf_rule.py: a regression forest in ranger as the tool builds it
# (dmlp_learner), trained on every row of x, with what each leaf holds of the bootstrap sample.
# Returns the in-sample predictions and, over every leaf of every tree that holds a draw, the
# distinct rows and the draws (a row drawn twice counts once and twice).
probe_ranger_leaves <- function(x, y, params) {
  dt <- data.table::as.data.table(x)
  dt$y <- y
  task <- mlr3::TaskRegr$new("leaves", backend = dt, target = "y")
  learner <- dmlp_learner("regr.ranger", params, FALSE)
  learner$param_set$values$keep.inbag <- TRUE
  learner$train(task)
  model <- learner$model
  if (!inherits(model, "ranger")) model <- model$model  # mlr3learners may wrap the ranger object
  nodes <- predict(model, dt, type = "terminalNodes")$predictions
  distinct <- c()
  draws <- c()
  for (k in seq_len(model$num.trees)) {
    inbag <- model$inbag.counts[[k]]
    held <- tapply(inbag, nodes[, k], function(n) c(sum(n > 0), sum(n)))
    held <- do.call(rbind, held)
    held <- held[held[, 2] > 0, , drop = FALSE]
    distinct <- c(distinct, held[, 1])
    draws <- c(draws, held[, 2])
  }
  list(prediction = learner$predict(task)$response, distinct = distinct, draws = draws)
}
