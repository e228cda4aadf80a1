# hpcx developer targets.  See docs/install.md.
#
#   make setup      Debian packages + .venv + editable install (idempotent)
#   make test       serial tests, then `mpi` tests under mpirun -n 2
#   make demo       run examples/quickstart.toml on 2 ranks and plot it
#   make figures    regenerate docs/results/<topic> figures and tables [TOPIC=name] [FRESH=1]
#   make test-slurm the job scripts under a one-node SLURM started for the test (docs/jobscripts.md)
#   make scaling    1- and 2-rank benchmark runs and `hpcx scaling` (docs/performance.md, Scaling)
#   make clean      remove build products (keeps .venv)
#   make distclean  also remove .venv

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
HPCX    := $(VENV)/bin/hpcx
NP      ?= 2
STAMP   := $(VENV)/.hpcx-installed

# mpirun refuses to run as root without these; oversubscribe lets 2 ranks run
# on machines that report fewer slots.
MPIRUN_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-run-as-root --oversubscribe)
MPIRUN  ?= mpirun
MPIEXEC := $(MPIRUN) $(MPIRUN_FLAGS) -x OMP_NUM_THREADS -x MPLBACKEND -n $(NP)

# one OpenMP thread per MPI rank; no display needed for figures
export OMP_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg
export HPCX_VENV := $(abspath $(VENV))

DEMO_CONFIG := examples/quickstart.toml
DEMO_DIR    := demo
DEMO_OUT    := $(DEMO_DIR)/quickstart.h5

.PHONY: help setup test test-slurm scaling demo figures clean distclean

help:
	@echo "make setup | test | test-slurm | scaling | demo | figures [TOPIC=...] | clean | distclean   (see docs/install.md)"

# setup.sh is cheap when everything is in place (dpkg-query + stamp check), so
# it always runs; it rebuilds/reinstalls hpcx only when pyproject.toml,
# setup.py or kernels/* are newer than $(STAMP), or a kernel .so is missing.
setup:
	@scripts/setup.sh

test: setup
	@scripts/run-tests.sh

# Installs slurm-wlm/munge when missing (root), starts a private one-node SLURM,
# submits every jobscripts/ script, checks the results, stops SLURM.
test-slurm: setup
	@tests/slurm/run.sh

# The scaling study of docs/performance.md: every benchmark on 1 and 2 ranks
# (BENCHES=..., RANKS=...), JSON in build/scaling/, then `hpcx scaling`.
scaling: setup
	@scripts/scaling.sh

demo: setup
	@mkdir -p $(DEMO_DIR)
	$(MPIEXEC) $(HPCX) run $(DEMO_CONFIG) -o $(DEMO_OUT) --overwrite
	$(HPCX) plot $(DEMO_OUT)
	@echo
	@echo "demo output: $(abspath $(DEMO_OUT))"
	@echo "figures:"
	@find $(DEMO_DIR) -maxdepth 2 -newer $(DEMO_OUT) -type f ! -name '*.h5' | sed 's/^/  /'

# Every docs/results/<topic>/reproduce.py (or only TOPIC's), on NP ranks.  Runs are
# cached in build/results/<topic>/ and reused while their config is unchanged;
# FRESH=1 deletes the cache first (regenerate from nothing).
TOPICS = $(if $(TOPIC),$(TOPIC),$(notdir $(patsubst %/,%,$(dir $(wildcard docs/results/*/reproduce.py)))))
figures: setup
	@for t in $(TOPICS); do \
	    test -f docs/results/$$t/reproduce.py || { echo "no docs/results/$$t/reproduce.py"; exit 2; }; \
	    if [ -n "$(FRESH)" ]; then rm -rf build/results/$$t; fi; \
	    echo "=== figures: $$t ==="; \
	    $(MPIEXEC) $(PY) docs/results/$$t/reproduce.py || exit 1; \
	done

clean:
	rm -rf build dist *.egg-info .pytest_cache $(DEMO_DIR)
	find hpcx -name '*.so' -delete
	find kernels -name '*.c' -delete
	find hpcx kernels tests -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
	rm -f $(STAMP)

distclean: clean
	rm -rf $(VENV)
