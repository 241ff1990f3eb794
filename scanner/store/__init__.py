"""The store: verdict history, findings, review flags, penalty ledger, certificates, lookup cache,
FDA classification, rule exceptions and sweep runs. SQLite by default, PostgreSQL in production."""
from scanner.store.db import DEFAULT_URL, ENV
from scanner.store.exceptions import ActiveException, apply_exceptions
from scanner.store.store import Store, StoreError, open_store

__all__ = ["DEFAULT_URL", "ENV", "ActiveException", "Store", "StoreError", "apply_exceptions", "open_store"]
