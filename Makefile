# Billing Audit. `make demo` and `make test` install what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: install lock layers renderers demo test test-unit test-integration test-infra test-e2e test-reliability lint synth bench clean

# uv.lock is the one lock (hash-pinned, every Python and platform): the venv is synced from it
# exactly, and each Lambda layer's requirements are exported from it (`make layers`).  uv itself
# is bootstrapped with pip at the version the lock names.
UV := $(BIN)/uv
UV_VERSION = $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV): uv.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	touch $(UV)

# --locked: a pyproject.toml change without `make lock` fails here instead of drifting.
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --extra dev --extra ml
	touch $(STAMP)

install: $(STAMP)

# After a change of dependencies in pyproject.toml: re-resolve, then re-export the layers.
lock: $(UV)
	$(UV) lock
	$(MAKE) layers

layers: $(STAMP)
	$(BIN)/python -m infra.layer_requirements

# Where the environment says PYTHONDONTWRITEBYTECODE (this machine does), every fresh interpreter
# compiled scikit-learn, scipy and boto3 from source again: about 8 s a process, paid by the demo
# and by each subprocess the tests start.  These targets write the bytecode caches (gitignored).
demo test test-unit test-integration test-infra test-e2e test-reliability: export PYTHONDONTWRITEBYTECODE =

demo: $(STAMP)
	$(BIN)/billing-audit demo --out $(OUT)

# The report tests open the workbook in LibreOffice and the dashboard in headless Chromium: Debian's
# packages, installed here when missing (as root, or through sudo without a password).
RENDERER_PACKAGES := chromium libreoffice-calc fonts-dejavu-core
renderers:
	@if command -v chromium >/dev/null && command -v soffice >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else \
	  echo "make: the report tests need $(RENDERER_PACKAGES): install them as root" >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(RENDERER_PACKAGES)

test: $(STAMP) renderers
	$(BIN)/pytest tests -q --durations=25

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

test-integration: $(STAMP) renderers
	$(BIN)/pytest tests/integration -q

test-infra: $(STAMP)
	$(BIN)/pytest tests/infra -q

test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

# Faults, bad input, load and crash consistency (also part of `make test`); `-m "not slow"` for the quick ones.
test-reliability: $(STAMP)
	$(BIN)/pytest tests/reliability -q

lint: $(STAMP)
	$(BIN)/ruff check src tests infra functions bench
	$(BIN)/ruff format --check src tests infra functions bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/mypy infra
	for handler in functions/*/handler.py; do $(BIN)/mypy "$$handler" || exit 1; done

synth: $(STAMP)
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(BIN)/python infra/app.py

# Every bench/bench_*.py, each in its own process, then one table (bench/run_all.py);
# BENCH_ONLY=scan,webhook runs some of them.
BENCH_ROWS ?= 20000
BENCH_REPORT_EVENTS ?= 100000
BENCH_CALLBACKS ?= 10000
BENCH_ONLY ?=
bench: $(STAMP)
	$(BIN)/python -m bench.run_all --rows $(BENCH_ROWS) --report-events $(BENCH_REPORT_EVENTS) \
		--callbacks $(BENCH_CALLBACKS) --only "$(BENCH_ONLY)"

clean:
	rm -rf $(VENV) cdk.out .build $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
