"""Prometheus metrics: request latency per route, verdicts by decision and rule, stage timings.

With several workers, `scanner serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
they start, and /metrics aggregates every worker's numbers."""
from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()   # no *_created series: one less sample per label set

MS_BUCKETS = (.0005, .001, .002, .003, .005, .0075, .01, .02, .05, .1, .25, .5, 1.0, 2.5, 5.0)

REQUEST_SECONDS = Histogram("scanner_http_request_duration_seconds", "HTTP request latency by route",
                            ["method", "route"], buckets=MS_BUCKETS)
REQUESTS = Counter("scanner_http_requests", "HTTP requests by route and status", ["method", "route", "status"])
VERDICTS = Counter("scanner_verdicts", "Pre-publish verdicts by decision", ["decision"])
FINDINGS = Counter("scanner_findings", "Findings in pre-publish verdicts by rule", ["rule"])
STAGE_SECONDS = Histogram("scanner_stage_seconds", "Time spent per stage of a request", ["stage"],
                          buckets=MS_BUCKETS)
ITEM_ERRORS = Counter("scanner_item_errors", "Listings refused as bad input, by field", ["field"])
RECORD_FAILURES = Counter("scanner_record_failures", "Failed commits of pre-publish verdicts (each retried "
                          "in background mode)")
RECORD_REFUSED = Counter("scanner_record_refused", "Scans answered 503 because the verdict queue was full")
BATCH_SIZE = Histogram("scanner_scan_batch_size", "Listings per micro-batch of POST /v1/scan",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128))
INFO = Gauge("scanner_info", "Loaded ruleset and model versions", ["ruleset_version", "model_version"],
             multiprocess_mode="max")

UNMATCHED = "(unmatched)"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
MAX_FIELD_LABEL = 40


def observe_verdict(verdict) -> None:
    VERDICTS.labels(verdict.decision).inc()
    for f in verdict.findings:
        FINDINGS.labels(f.rule).inc()


def item_error(field: str) -> None:
    # a field label from hostile input: cut to the contract's top-level field to bound cardinality
    root = field.split(".", 1)[0].split("[", 1)[0][:MAX_FIELD_LABEL]
    ITEM_ERRORS.labels(root).inc()


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware: latency histogram and status counter per route template (not raw path)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or UNMATCHED
            method = scope.get("method", "")
            method = method if method in METHODS else "OTHER"
            REQUEST_SECONDS.labels(method, path).observe(time.perf_counter() - start)
            REQUESTS.labels(method, path, str(status)).inc()
