# The two set-up commands: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install demo dev test soak bench lock clean-data

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crawl-pipeline demo

dev: $(STAMP)
	$(VENV)/bin/crawl-pipeline dev

# Lint (ruff), the layer contracts (import-linter), then the suite.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The fault campaign at a larger scale (PostgreSQL restarts included).
soak: $(STAMP)
	CRAWL_SOAK=1 $(PY) -m pytest -n $(PYTEST_WORKERS) crawl_pipeline_tests/fault_tests crawl_pipeline_tests/fuzz_tests $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench-stamp

# The bench extra (dlt, the ingest comparison) on top of the dev install, pinned like the rest.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

# Every benchmark, ratios against baselines measured in the same run -> bench/RESULTS.md (BENCH_ARGS=--full).
bench: $(BENCH_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# Regenerate the pinned versions after changing dependencies in pyproject.toml.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev,bench]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^crawl.pipeline' > constraints.txt
	rm -rf .lockenv

clean-data:  # everything under data/ but its README
	find data -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
