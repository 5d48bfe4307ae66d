# dml-parity: DoubleML's bootstrap, joint intervals and multiple-testing adjustment with the tool's
# draws, and the SSM nonignorable inner split. Sourced by engine.R's dmlp_setup.
#
# How the draws reach DoubleML 1.0.2's own code (read in its source):
# - bootstrap(): each repetition's weights come from one call of the package-internal
#   draw_weights(method, n_rep_boot, n_obs) (R/helper.R). For the duration of the call the tool
#   puts a function in the package namespace under that name that returns the tool's weights for
#   the repetition; bootstrap(), confint(joint = TRUE) and p_adjust() run unchanged. (The private
#   compute_bootstrap(weights, n_rep_boot) is the other hook, but then the tool would have to
#   repeat bootstrap()'s loop and bookkeeping over repetitions and treatments itself.)
# - SSM nonignorable: nuisance_est halves each training fold with rsmp("holdout", ratio = 0.5),
#   which mlr3 builds from its dictionary mlr_resamplings. For the duration of the fit the tool
#   registers under "holdout" a holdout resampling whose instance is the tool's split of that
#   training fold, and puts mlr3's own class back afterwards.

dmlp_with_weights <- function(weights, run) {
  original <- get("draw_weights", envir = asNamespace("DoubleML"))
  i <- 0L
  tool_weights <- function(method, n_rep_boot, n_obs) {
    i <<- i + 1L
    w <- weights[[i]]
    if (nrow(w) != n_rep_boot || ncol(w) != n_obs) {
      stop(sprintf("shared bootstrap weights of repetition %d are %d x %d, DoubleML asks %d x %d",
                   i, nrow(w), ncol(w), n_rep_boot, n_obs))
    }
    w
  }
  utils::assignInNamespace("draw_weights", tool_weights, ns = "DoubleML")
  on.exit(utils::assignInNamespace("draw_weights", original, ns = "DoubleML"), add = TRUE)
  run()
}

# What the fitted object reports after a bootstrap (or, without one, the deterministic adjustment).
dmlp_reported <- function(obj, inference) {
  out <- list()
  if (!is.null(inference$method)) out$boot_t <- unname(obj$boot_t_stat)
  if (isTRUE(inference$joint)) out$joint_ci <- unname(obj$confint(joint = TRUE, level = 0.95))
  if (!is.null(inference$p_adjust)) out$p_adjusted <- unname(obj$p_adjust(method = inference$p_adjust)[, 2])
  out
}

dmlp_inference <- function(obj, inference, seed) {
  if (is.null(inference$method)) return(list(shared = dmlp_reported(obj, inference)))
  shared <- dmlp_with_weights(inference$weights, function() {
    obj$bootstrap(method = inference$method, n_rep_boot = inference$n_rep_boot)
    dmlp_reported(obj, inference)
  })
  out <- list(shared = shared)
  if (isTRUE(inference$own_draws)) {
    set.seed(seed)
    obj$bootstrap(method = inference$method, n_rep_boot = inference$n_rep_boot)
    out$own <- dmlp_reported(obj, inference)
  }
  out
}

#   splits: list of list(train, first, second): a training fold (sorted, 1-based), the half that
#           fits ml_pi and the half that fits ml_m and ml_g.
dmlp_with_inner_splits <- function(splits, run) {
  keys <- vapply(splits, function(s) paste(s$train, collapse = ","), character(1))
  shared_holdout <- R6::R6Class("ResamplingDmlpSharedHoldout",
    inherit = mlr3::ResamplingHoldout,
    private = list(
      .get_instance = function(task) {
        hit <- match(paste(sort(task$row_ids), collapse = ","), keys)
        if (is.na(hit)) stop("no shared inner split for this training fold")
        list(train = splits[[hit]]$first, test = splits[[hit]]$second)
      }
    )
  )
  resamplings <- mlr3::mlr_resamplings
  resamplings$add("holdout", shared_holdout)
  on.exit(resamplings$add("holdout", mlr3::ResamplingHoldout), add = TRUE)
  run()
}
