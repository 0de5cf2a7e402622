# The one way in: `make serve` and `make test` (see README). CI calls `make test`.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := tests/node_modules/.installed

export FASTMCP_CHECK_FOR_UPDATES := off

.PHONY: serve test lint typecheck unit e2e install npm clean desktop-config bench

# Install output goes to stderr: on `make serve`, stdout is the MCP protocol.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2
	@$(BIN)/python -m pip install --quiet -e '.[dev]' >&2
	@touch $(STAMP)

install: $(STAMP)

$(NPM_STAMP): tests/package.json tests/package-lock.json
	npm ci --prefix tests --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

npm: $(NPM_STAMP)

## Start the stdio MCP server (what Claude Desktop runs); creates the venv and config first.
serve: $(STAMP)
	@$(BIN)/orch init >&2
	@exec env ORCH_TOKEN_FILE="$$($(BIN)/orch token path)" $(BIN)/orch serve

## Print the block to paste into Claude Desktop's config.
desktop-config: $(STAMP)
	@$(BIN)/orch claude-desktop-config

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## Everything CI runs: lint, types, then the whole test suite (core, shell, e2e, doctests).
test: $(STAMP) $(NPM_STAMP) lint typecheck
	$(BIN)/pytest -q

## Benchmarks: orch vs a bare FastMCP server (per call, start-up, memory, parallel turns, scale),
## audit appends and verify, fairness under a flood, metrics cost; then the targets table
## (writes bench/results.json).
bench: $(STAMP)
	$(BIN)/python bench/bench_vs_bare.py
	$(BIN)/python bench/bench_parallel.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_audit.py
	$(BIN)/python bench/bench_fairness.py --seconds 20
	$(BIN)/python bench/bench_metrics_overhead.py
	@echo; $(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) tests/node_modules .mypy_cache .ruff_cache
