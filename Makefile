# Every target builds .venv on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test bench lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/scanner scan examples/catalog.jsonl --certificates examples/certificates.jsonl \
		--as-of 2022-02-01 --output examples/verdicts.jsonl
	@echo "verdicts written to examples/verdicts.jsonl"

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/bench_scan.py
	$(BIN)/python bench/bench_medical.py
	@for b in bench_ml bench_sweep bench_service; do \
		if [ -f bench/$$b.py ]; then echo "== $$b"; $(BIN)/python bench/$$b.py || exit 1; fi; done

lint: install
	$(BIN)/ruff check scanner tests bench tools
