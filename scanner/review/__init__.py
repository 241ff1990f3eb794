"""Reviewer triage web app (server-rendered, under /review): accounts, queue, flag pages, decisions,
audit log, admin statistics. `create_review_router` in scanner.review.app builds the FastAPI router."""
