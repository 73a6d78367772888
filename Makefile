# Hallmark: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_HOME ?= ./.hallmark-demo
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/hallmark --home $(DEMO_HOME) init --if-missing
	$(BIN)/hallmark --home $(DEMO_HOME) serve --demo --host 127.0.0.1 --port 8000

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/log_bench.py
	$(BIN)/python benchmarks/journal_bench.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
