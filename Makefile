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

# The demo: a fresh SQLite store (demo.db) with the example catalog and certificates swept into it,
# a reviewer account and an API key (both printed), then the service on 127.0.0.1:8000.
DEMO_DB := sqlite:///demo.db
run: install
	@set -e; rm -f demo.db demo.db-wal demo.db-shm; \
	$(BIN)/scanner db --database $(DEMO_DB) upgrade; \
	$(BIN)/scanner sweep examples/catalog.jsonl --certificates examples/certificates.jsonl \
		--database $(DEMO_DB) --as-of 2022-02-01 --workers 1; \
	PASSWORD=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))"); \
	if $(BIN)/python -c "import scanner.review" 2>/dev/null; then \
		echo "$$PASSWORD" | $(BIN)/scanner users --database $(DEMO_DB) create demo --role reviewer --password-stdin \
			>/dev/null && REVIEWER="reviewer 'demo', password $$PASSWORD: http://127.0.0.1:8000/review/"; \
	else REVIEWER="(no reviewer account: scanner.review is not installed)"; fi; \
	KEY=$$($(BIN)/scanner keys --database $(DEMO_DB) create --name demo --scope admin 2>/dev/null); \
	echo; echo "  $$REVIEWER"; echo "  API key (scope admin): $$KEY"; \
	echo "  API docs: http://127.0.0.1:8000/docs   metrics: http://127.0.0.1:8000/metrics"; \
	echo "  try: curl -s -H 'X-API-Key: $$KEY' -d '{\"listing_id\": \"L-1\", \"merchant_id\": \"M-1\", \"title\": \"Compound crossbow 175 lbs\"}' http://127.0.0.1:8000/v1/scan"; \
	echo; exec $(BIN)/scanner serve --host 127.0.0.1 --port 8000 --database $(DEMO_DB)

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/bench_scan.py
	$(BIN)/python bench/bench_medical.py
	@for b in bench_ml bench_sweep bench_service bench_review; do \
		if [ -f bench/$$b.py ]; then echo "== $$b"; $(BIN)/python bench/$$b.py || exit 1; fi; done

lint: install
	$(BIN)/ruff check scanner tests bench tools
