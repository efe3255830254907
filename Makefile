# Billing Audit. `make demo` and `make test` install what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: install demo test test-unit test-integration test-infra test-e2e lint synth bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ml]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/billing-audit demo --out $(OUT)

test: $(STAMP)
	$(BIN)/pytest tests -q

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test-integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

test-infra: $(STAMP)
	$(BIN)/pytest tests/infra -q

test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

lint: $(STAMP)
	$(BIN)/ruff check src tests infra functions bench
	$(BIN)/ruff format --check src tests infra functions bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/mypy infra
	for handler in functions/*/handler.py; do $(BIN)/mypy "$$handler" || exit 1; done

synth: $(STAMP)
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(BIN)/python infra/app.py

BENCH_ROWS ?= 20000
bench: $(STAMP)
	$(BIN)/python -m bench.bench_detect
	$(BIN)/python -m bench.bench_weekly_close --rows $(BENCH_ROWS)

clean:
	rm -rf $(VENV) cdk.out .build $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
