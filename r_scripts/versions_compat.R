# Sourced after engine.R by `dml-parity versions` (harness/versions/r_worker.py) for DoubleML
# releases before 1.0.2, whose DoubleMLData and DoubleMLClusterData take no `s_col`: engine.R's
# dmlp_data passes it (NULL outside selection models), which those releases refuse as an unused
# argument. Everything else of engine.R runs unchanged on them.
if (!"s_col" %in% names(formals(DoubleML::DoubleMLData$public_methods$initialize))) {
  dmlp_data <- function(x, y, d, x_cols, z_cols, cluster_cols, s_col = NULL, other_treat = TRUE) {
    if (!is.null(s_col)) stop("DoubleML ", utils::packageVersion("DoubleML"), " has no selection models (s_col)")
    dt <- data.table::setDT(x)
    z <- if (length(z_cols)) z_cols else NULL
    if (length(cluster_cols)) {
      DoubleML::DoubleMLClusterData$new(dt, y_col = y, d_cols = d, cluster_cols = cluster_cols,
                                        x_cols = x_cols, z_cols = z)
    } else {
      DoubleML::DoubleMLData$new(dt, y_col = y, d_cols = d, x_cols = x_cols, z_cols = z)
    }
  }
}
