"""The pre-publish HTTP service (FastAPI): scan API with API keys, limits, OpenAPI, health and metrics.

`scanner serve` runs it under uvicorn; `scanner.service.app.create_app()` builds the ASGI app.
This package's __init__ stays light: `scanner.service.apikeys` is imported by a store migration.
"""
