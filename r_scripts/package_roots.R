# The R packages dml-parity asks for by name (everything else is their dependencies), with the
# minimum versions the harness needs (DoubleML's set_sample_splitting and store_predictions behave
# as the harness expects from these on). Sourced by install_packages.R and lock_packages.R.

dmlp_required <- c(
  DoubleML = "1.0.2", mlr3 = "1.8.0", mlr3learners = "0.16.0", mlr3tuning = "1.0.0",
  ranger = "0.14.0", glmnet = "4.1", jsonlite = "1.8.0", rpart = "4.1", nnet = "7.3",
  e1071 = "1.7-17"
)

# Fields of a DESCRIPTION or PACKAGES entry that name packages needed at install or load time.
dmlp_dep_fields <- c("Depends", "Imports", "LinkingTo")

# Package names in a dependency field such as "R (>= 4.0), data.table (>= 1.15), methods".
dmlp_dep_names <- function(entry) {
  if (is.na(entry)) return(character())
  names <- trimws(sub("\\(.*", "", strsplit(entry, ",")[[1L]]))
  names[names != "" & names != "R"]
}

# Read a lock file: DCF records (Package, Version, Source, MD5sum), '#' lines are comments.
dmlp_read_lock <- function(path) {
  lines <- readLines(path, warn = FALSE)
  lines <- lines[!startsWith(lines, "#")]
  con <- textConnection(paste(lines, collapse = "\n"))
  on.exit(close(con))
  pins <- read.dcf(con, fields = c("Package", "Version", "Source", "MD5sum"))
  if (!nrow(pins) || anyNA(pins[, c("Package", "Version", "Source")])) {
    stop(path, ": every entry needs Package, Version and Source", call. = FALSE)
  }
  pins
}
