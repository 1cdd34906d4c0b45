# GreenMatch — the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint install install-dev db seed index worker bench clean help

help:
	@echo "make run     set up and start the platform on http://$(HOST):$(PORT) with demo data"
	@echo "make test    run the whole test suite"
	@echo "make lint    ruff"
	@echo "make worker  an RQ worker (needs REDIS_URL)"
	@echo "make bench   speed figures → BENCHMARKS.md (BENCH_SCALE=city for a quick run)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

db: install
	$(FLASK) db upgrade

seed: db
	$(FLASK) demo seed --if-empty

index: seed
	$(FLASK) search reindex

run: index
	@echo "GreenMatch: http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	RUN_PERIODIC_IN_PROCESS=1 $(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/pytest -n auto --durations=15

lint: install-dev
	$(BIN)/ruff check .

worker: install
	$(FLASK) worker

# Seeds its own instance (bench/.instance-<scale>), never instance/. BENCH_SCALE=city is quick.
BENCH_SCALE ?= province
bench: install
	@command -v wrk >/dev/null 2>&1 || echo "WARNING: the http figure needs the load generator wrk, which is not installed: apt-get install wrk (it will be reported as failed)"
	BENCH_SCALE=$(BENCH_SCALE) $(BIN)/python -m bench --scale $(BENCH_SCALE) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache test-artifacts
