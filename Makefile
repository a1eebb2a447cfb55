# demandhub: `make demo` runs the embedded stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install demo test test-unit test-integration lint format bench bench-quick schemas clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/demandhub up

# The suite runs in one process per logical CPU (at most four; pytest-xdist), each test file whole in one
# of them: a file's module fixtures are built once, and every process has its own session fixtures
# (an embedded warehouse, since chDB holds one data path per process; tansu; Apache Kafka when a
# file of it needs one). TEST_PROCESSES=0 runs it in this process.
TEST_PROCESSES ?= logical
PYTEST := $(BIN)/pytest -n $(TEST_PROCESSES) --maxprocesses 4 --dist loadfile

test: install lint
	$(PYTEST)

test-unit: install
	$(PYTEST) -m unit

test-integration: install
	$(PYTEST) -m integration

# lint-imports checks the layer contracts in pyproject.toml ([tool.importlinter]); mypy the types
# ([tool.mypy]; its cache is .mypy_cache).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: install
	$(BIN)/demandhub schemas export

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache test-artifacts
