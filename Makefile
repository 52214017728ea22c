# Two commands: `make run` (develop) and `make test` (the whole suite). No internet needed
# beyond the package registries; nothing to configure.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
LOCALSTRIPE_PORT ?= 8420
export PORT LOCALSTRIPE_PORT

.PHONY: install run test lint format benchmark clean

$(BIN)/.installed: requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/flask --app app db upgrade
	$(BIN)/flask --app app demo
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	$(BIN)/flask --app app run --host 127.0.0.1 --port $(PORT) --no-debugger --no-reload

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
