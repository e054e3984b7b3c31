# Everything a fresh machine needs is installed by these targets: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test lint

$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[browser,test]'
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-test: $(VENV)/.test

demo: install
	$(BIN)/exposure demo

lint: install-test
	$(BIN)/ruff check exposure tests benchmarks
	$(BIN)/mypy

test: install-test
	bash scripts/ensure-chromium.sh
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q -p no:cacheprovider
