"""Fixtures of the review tests; the helpers live in review_harness (a unique module name, so
they never clash with another folder's conftest)."""
from review_harness import any_site, rulesets, site  # noqa: F401 - pytest fixtures
