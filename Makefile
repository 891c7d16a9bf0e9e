# stackmedic: `make run` sets up and starts the agent; `make test` sets up and runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps: running needs the package alone; the test tools come with `make test`.
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint typecheck check bench clean system-deps example-image

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# An editable install leaves the package's own modules uncompiled (pip compiles only what
# it copies): compile them once, as a regular install does, so that no start pays for it.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/python -m compileall -q src >/dev/null
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(RUN_STAMP) example-image
	$(BIN)/stackmedic run $(if $(CONFIG),--config $(CONFIG),)

example-image:
	@scripts/example-image

system-deps:
	scripts/ensure-system-deps

test: $(TEST_STAMP) system-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	PYTEST=$(BIN)/pytest scripts/run-tests $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

bench: $(TEST_STAMP) system-deps
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
