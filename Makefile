# dml-parity: `make run` (the seed study on the embedded data) and `make test` set everything up first.
#
# Settings (environment or make variables):
#   DMLP_R_REPO   CRAN-style repository for the R packages (default: the public CRAN mirror;
#                 offline machines: file:///absolute/path/to/a/cran/mirror)
#   DMLP_R_CACHE  where compiled R packages are kept, keyed by R version (outside the clone, so a
#                 second setup links instead of compiling)
#   PYTHON        interpreter for the virtual environment (default python3)

PYTHON ?= python3
DMLP_R_REPO ?= https://cloud.r-project.org
R_VERSION = $(shell Rscript -e 'cat(as.character(getRversion()))' 2>/dev/null)
DMLP_R_CACHE ?= $(HOME)/.cache/dml-parity/R-$(R_VERSION)
# Debian's binaries of pure build-time dependencies save compile time without changing any
# learner's numbers; everything else comes from DMLP_R_REPO at the versions it holds.
DEBIAN_R = r-base-core r-base-dev r-recommended r-cran-rcpp r-cran-rcppeigen
R_EXTRA ?= lightgbm
SPECS ?= specs/paper.yaml
JOBS ?= 2

.PHONY: setup r-system run test lint doctor bench clean

setup: r-system .venv/.installed .rlib/.installed

r-system:
	@if ! command -v Rscript >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing R from Debian: $(DEBIAN_R)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_R) >/dev/null; \
	  else \
	    echo "R is missing. Install it, then re-run make setup:"; \
	    echo "  sudo apt-get install -y $(DEBIAN_R)"; \
	    exit 1; \
	  fi; \
	fi

.venv/.installed: pyproject.toml | r-system
	test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e ".[dev,dask]"
	touch $@

.rlib/.installed: r_scripts/install_packages.R | r-system
	Rscript r_scripts/install_packages.R .rlib "$(DMLP_R_REPO)" "$(DMLP_R_CACHE)" $(R_EXTRA)
	touch $@

# Exit 1 means "Python and R disagree somewhere": a finding the report shows, not a failed job.
run: setup
	.venv/bin/dml-parity run --specs $(SPECS) --jobs $(JOBS) --out reports/paper; \
	  rc=$$?; if [ $$rc -eq 1 ]; then echo "some specs disagree or failed: see reports/paper/report.html"; fi; [ $$rc -le 1 ]

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check harness tests bench

doctor: setup
	.venv/bin/dml-parity doctor

bench: setup
	.venv/bin/python bench/run_bench.py

clean:
	rm -rf .venv .rlib
