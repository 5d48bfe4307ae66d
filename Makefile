# dml-parity: `make run` (the seed study on the embedded data) and `make test` set everything up first.
#
# Settings (environment or make variables):
#   DMLP_R_REPO   CRAN-style repository for the R packages (default: the public CRAN mirror;
#                 offline machines: file:///absolute/path/to/a/cran/mirror)
#   DMLP_R_CACHE  where compiled R packages are kept, keyed by R version (outside the clone, so a
#                 second setup links instead of compiling)
#   PYTHON        interpreter for the virtual environment (default python3)
#
# The environment is pinned: pylock.toml (Python, PEP 751) and r-packages.lock (R) record the
# versions `make setup` installs. `make lock` rewrites both from what .venv and .rlib hold now.

PYTHON ?= python3
DMLP_R_REPO ?= https://cloud.r-project.org
R_VERSION = $(shell Rscript -e 'cat(as.character(getRversion()))' 2>/dev/null)
DMLP_R_CACHE ?= $(HOME)/.cache/dml-parity/R-$(R_VERSION)
# Debian's binaries of pure build-time dependencies save compile time without changing any
# learner's numbers; everything else comes from DMLP_R_REPO at the versions r-packages.lock records.
DEBIAN_R = r-base-core r-base-dev r-recommended r-cran-rcpp r-cran-rcppeigen
# What the report needs from Debian: a CJK font for the Chinese titles in its plots, and Chromium
# for the test that lays report.html out at 1400 px.
DEBIAN_REPORT = fonts-noto-cjk chromium
R_EXTRA ?= lightgbm
# pip itself is pinned: pylock.toml is installed by pip's own (PEP 751) reader.
PIP_VERSION = 26.3
# `make lock` resolves against this index only, so the lock's URLs work on any machine.
LOCK_INDEX ?= https://pypi.org/simple
SPECS ?= specs/paper.yaml
JOBS ?= 2

.PHONY: setup r-system report-system lock run test lint doctor bench clean

setup: r-system report-system .venv/.installed .rlib/.installed

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

# Not fatal without root: the tool runs without them (plots replace Chinese text by '…'), and the
# tests that need them skip, unless DMLP_REQUIRE_CJK_FONT=1 / DMLP_REQUIRE_BROWSER=1 (CI) say otherwise.
report-system:
	@missing=""; \
	for p in $(DEBIAN_REPORT); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing from Debian:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "The report's Chinese plot titles and its browser test need:$$missing. Install them with:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	  fi; \
	fi

.venv/.installed: pyproject.toml pylock.toml | r-system
	test -x .venv/bin/python || $(PYTHON) -m venv .venv
	.venv/bin/pip install -q pip==$(PIP_VERSION)
	.venv/bin/pip install -q -r pylock.toml
	.venv/bin/pip install -q --no-deps -e .
	touch $@

.rlib/.installed: r_scripts/install_packages.R r_scripts/package_roots.R r-packages.lock | r-system
	Rscript r_scripts/install_packages.R .rlib "$(DMLP_R_REPO)" "$(DMLP_R_CACHE)" r-packages.lock
	touch $@

# The one command that updates the pins: records the versions installed in .venv and .rlib now.
# To move a package, install the version you want there (pip install -U NAME / install.packages),
# run the tests, then `make lock`.
lock: .venv/.installed .rlib/.installed
	.venv/bin/pip freeze --exclude-editable > .venv/lock-constraints.txt
	PIP_CONFIG_FILE=/dev/null .venv/bin/pip lock --isolated -q --index-url $(LOCK_INDEX) --only-deps \
	  -c .venv/lock-constraints.txt -o pylock.toml ".[dev,dask,bench]"
	Rscript r_scripts/lock_packages.R .rlib "$(DMLP_R_REPO)" r-packages.lock $(R_EXTRA)
	touch .venv/.installed .rlib/.installed

# Exit 1 means "a spec disagrees or is inconclusive": a finding the report shows, not a failed job.
# 2 (bad input), 3 (the tool failed) and 4 (nothing compared) fail the target (README, "Exit codes").
run: setup
	.venv/bin/dml-parity run --specs $(SPECS) --jobs $(JOBS) --out reports/paper; \
	  rc=$$?; case $$rc in \
	    0) ;; \
	    1) echo "a finding: some specs disagree or are inconclusive; see reports/paper/report.html";; \
	    2) echo "dml-parity: bad input (exit 2)"; exit 2;; \
	    3) echo "dml-parity: the tool failed (exit 3)"; exit 3;; \
	    4) echo "dml-parity: nothing compared (exit 4)"; exit 4;; \
	    *) exit $$rc;; \
	  esac

# Two workers (the machines have two cores); a module's tests stay on one worker so that its shared
# fits run once, the matrix cases (in shard classes, tests/shards.py) spread over both.
TEST_WORKERS ?= 2

test: setup
	.venv/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope

lint: setup
	.venv/bin/ruff check harness tests bench

doctor: setup
	.venv/bin/dml-parity doctor

bench: setup
	.venv/bin/python bench/overhead/run_bench.py

clean:
	rm -rf .venv .rlib
