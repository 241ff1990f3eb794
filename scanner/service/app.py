"""The FastAPI app: pre-publish scans, verdict history, merchant certificates, health and metrics."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import time
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from scanner import limits as contract_limits
from scanner.listing import RecordError
from scanner.service import metrics, schemas
from scanner.service.apikeys import ApiKey
from scanner.service.batcher import ScanBatcher
from scanner.service.limits import BodyLimit, BodyTooLarge, error_body
from scanner.service.ratelimit import retry_after
from scanner.service.recorder import QueueFull
from scanner.service.runtime import Conflict, Runtime, ScanFailed
from scanner.service.settings import Settings

log = logging.getLogger("scanner.service")
MAX_TOKEN_CHARS = 200
AUTH_SECONDS = metrics.STAGE_SECONDS.labels("auth")


def _id():
    """A path id bounded like the contract's ids (a fresh Path object per parameter)."""
    return Path(min_length=1, max_length=contract_limits.ID_CHARS)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, field: str | None = None,
                 record: str | None = None, headers: dict[str, str] | None = None):
        self.status, self.error, self.message = status, error, message
        self.field, self.record, self.headers = field, record, headers or {}
        super().__init__(message)


def json_response(data: Any, status: int = 200, option: int = 0) -> Response:
    return Response(orjson.dumps(data, option=option), status_code=status, media_type="application/json")


def _error_response(status: int, error: str, message: str, field: str | None = None, record: str | None = None,
                    headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, error, message, field, record), status_code=status,
                    media_type="application/json", headers=headers)


def _record_error(exc: RecordError, where: str = "") -> dict:
    failed = isinstance(exc, ScanFailed)
    return {"error": "scan_failed" if failed else "invalid_field", "message": exc.message,
            "field": where + exc.field, "record": exc.record, "status": 500 if failed else 422}


def _runtime(request: Request) -> Runtime:
    rt = getattr(request.app.state, "runtime", None)
    if rt is None:
        raise ApiError(503, "not_ready", "the service is starting or stopping")
    return rt


async def _in_thread(rt: Runtime, fn, *args):
    return await asyncio.get_running_loop().run_in_executor(rt.executor, fn, *args)


_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key from `scanner keys create`")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


KEY_HEADER, BEARER = Security(_key_header), Security(_bearer)


def require(scope: str):
    """Dependency: a valid, unrevoked key whose scope allows `scope` (admin allows all), within its rate."""
    async def dependency(request: Request, header: str | None = KEY_HEADER,
                         bearer: HTTPAuthorizationCredentials | None = BEARER) -> ApiKey:
        return await authorize(request, header or (bearer.credentials if bearer is not None else None), scope)
    return dependency


def presented_token(request: Request) -> str | None:
    """The key as the X-API-Key and bearer schemes above read it, for a route that declares them in
    its OpenAPI instead of as dependencies (FastAPI's dependency solving costs ~40 µs a request)."""
    header = request.headers.get("x-api-key")
    if header:
        return header
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


async def authorize(request: Request, token: str | None, scope: str) -> ApiKey:
    t0 = time.perf_counter()
    if not token:
        raise ApiError(401, "unauthorized", "an API key is required (X-API-Key or Authorization: Bearer)",
                       headers={"WWW-Authenticate": "Bearer"})
    rt = _runtime(request)
    key = None
    if len(token) <= MAX_TOKEN_CHARS:
        key = rt.cached_key(token) or await _in_thread(rt, rt.key_for, token)
    if key is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    if not key.allows(scope):
        raise ApiError(403, "forbidden", f"this key's scope '{key.scope}' does not allow '{scope}'")
    wait = rt.limiter.check(key.id, key.rate_limit)
    if wait:
        raise ApiError(429, "rate_limited", "rate limit exceeded for this key",
                       headers={"Retry-After": retry_after(wait)})
    AUTH_SECONDS.observe(time.perf_counter() - t0)
    return key


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}", "(body)") from None


AS_OF_TEXT, DATE = "Scan as of this date, YYYY-MM-DD (default: today)", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
AS_OF = Query(None, description=AS_OF_TEXT, pattern=DATE, json_schema_extra={"format": "date"})
_DATE = re.compile(DATE)
# what FastAPI writes for KEY_HEADER, BEARER and AS_OF, for the route that reads them itself
SCAN_SECURITY = {"security": [{"APIKeyHeader": []}, {"HTTPBearer": []}], "parameters": [
    {"name": "as_of", "in": "query", "required": False, "description": AS_OF_TEXT,
     "schema": {"anyOf": [{"type": "string", "pattern": DATE}, {"type": "null"}], "description": AS_OF_TEXT,
                "format": "date", "title": "As Of"}}]}


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        if _DATE.match(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ApiError(422, "invalid_field", f"not a date (YYYY-MM-DD): {value[:20]!r}", "as_of")


def _queue_full() -> ApiError:
    return ApiError(503, "store_busy", "too many verdicts are waiting to be recorded; retry later",
                    headers={"Retry-After": "1"})


async def _recorded(rt: Runtime, scanned) -> None:
    try:
        fut = rt.record(scanned)
    except QueueFull:
        raise _queue_full() from None
    if fut is not None and rt.settings.record == "wait":
        await _committed(asyncio.wrap_future(fut))


async def _committed(fut: asyncio.Future) -> None:
    """Wait for the commit of a request's verdicts (record=wait)."""
    t0 = time.perf_counter()
    try:
        await asyncio.shield(fut)        # shared by a batch: one request's cancellation must not cancel it
    except Exception as exc:  # noqa: BLE001 - any database failure: the caller retries
        log.error("recording verdicts failed: %s", exc)
        raise ApiError(503, "store_unavailable", "the verdict could not be recorded; retry later") from None
    finally:
        metrics.STAGE_SECONDS.labels("record").observe(time.perf_counter() - t0)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime or Runtime(settings)    # built once: rulesets, automata, models, store
        app.state.batcher = ScanBatcher(rt.scan_batch, rt.executor, settings.scan_batch, settings.batch_wait)
        app.state.runtime = rt
        try:
            yield
        finally:
            app.state.runtime = None
            if runtime is None:
                rt.close()                   # commits verdicts still queued

    app = FastAPI(title="Listing compliance scanner", version="1", lifespan=lifespan,
                  description="Pre-publish compliance scans for marketplace listings (see CONTRACT.md).")
    app.state.runtime = None
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(metrics.RequestMetrics)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.error, exc.message, exc.field, exc.record, exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge):
        return _error_response(413, "body_too_large", str(exc), "(body)", headers={"Connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in err.get("loc", ())]
        field = ".".join(loc[1:] if loc and loc[0] in ("path", "query", "header", "body") else loc) or "(request)"
        return _error_response(422, "invalid_field", str(err.get("msg", "invalid")), field)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError):
        log.error("database error on %s: %s", request.url.path, exc)
        return _error_response(503, "store_unavailable", "the database is unavailable; retry later")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return _error_response(500, "internal_error", "internal error (logged)")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        headers = exc.headers
        if exc.status_code == 405:   # every method of the path, not only those of the route that matched
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
        return _error_response(exc.status_code, "http_error", str(exc.detail), headers=headers)

    scan_key, cert_key = Depends(require("scan")), Depends(require("certificates"))

    @app.post("/v1/scan", tags=["scan"], summary="Scan one listing before it is published",
              response_model=None, openapi_extra={**schemas.scan_body(settings), **SCAN_SECURITY},
              responses={200: {"model": schemas.VerdictOut, "description": "The verdict"},
                         **schemas.errors(400, 401, 403, 413, 422, 429, 503)})
    async def scan(request: Request):
        await authorize(request, presented_token(request), "scan")
        day = _as_of(request.query_params.get("as_of"))
        data = await _json_body(request)
        try:
            one, committed = await request.app.state.batcher.submit((data, day))
        except QueueFull:
            raise _queue_full() from None
        if one.error is not None:
            e = _record_error(one.error)
            raise ApiError(e["status"], e["error"], e["message"], e["field"], e["record"])
        if committed is not None:
            await _committed(committed)
        return Response(orjson.dumps(one.verdict), media_type="application/json")

    @app.post("/v1/scan/batch", tags=["scan"], summary="Scan up to a batch of listings",
              response_model=None, openapi_extra=schemas.batch_body(settings),
              responses={200: {"model": schemas.BatchOut, "description": "A verdict or an error per listing"},
                         **schemas.errors(400, 401, 403, 413, 422, 429, 503)})
    async def scan_batch(request: Request, key: ApiKey = scan_key,
                         as_of: str | None = AS_OF):
        rt = _runtime(request)
        data = await _json_body(request)
        if not isinstance(data, dict) or not isinstance(data.get("listings"), list):
            raise ApiError(422, "invalid_field", "expected an object with a list of listings", "listings")
        records = data["listings"]
        if len(records) > settings.max_batch:
            raise ApiError(422, "too_many_listings",
                           f"at most {settings.max_batch} listings per batch, got {len(records)}", "listings")
        scanned = await _in_thread(rt, rt.scan_records, records, _as_of(as_of))
        await _recorded(rt, scanned)
        results = []
        for i, (record, s) in enumerate(zip(records, scanned)):
            lid = record.get("listing_id") if isinstance(record, dict) else None
            lid = lid if isinstance(lid, str) else None
            if s.error is not None:
                results.append({"index": i, "listing_id": lid, "error": _record_error(s.error, f"listings[{i}].")})
            else:
                results.append({"index": i, "listing_id": lid, "verdict": s.verdict})
        errors = sum(1 for s in scanned if s.error is not None)
        return json_response({"results": results, "scanned": len(scanned) - errors, "errors": errors})

    @app.get("/v1/verdicts/{listing_id}", tags=["verdicts"], summary="Latest verdict and history of a listing",
             response_model=None,
             responses={200: {"model": schemas.VerdictHistory}, **schemas.errors(401, 403, 404, 422, 429, 503)})
    async def verdicts(request: Request, listing_id: str = _id(), key: ApiKey = scan_key):
        rt = _runtime(request)
        history = await _in_thread(rt, rt.history, listing_id)
        if not history:
            raise ApiError(404, "not_found", "no verdict recorded for this listing", "listing_id")
        return json_response({"listing_id": listing_id, "latest": history[-1], "history": history},
                             option=orjson.OPT_NAIVE_UTC)   # stored times are UTC

    # --- certificates ------------------------------------------------------------------------------
    cert_errors = schemas.errors(400, 401, 403, 409, 413, 422, 429, 503)

    @app.get("/v1/merchants/{merchant_id}/certificates", tags=["certificates"], response_model=None,
             summary="A merchant's stored certificates",
             responses={200: {"model": schemas.CertificateList}, **cert_errors})
    async def list_certificates(request: Request, merchant_id: str = _id(), key: ApiKey = cert_key):
        rt = _runtime(request)
        certs = await _in_thread(rt, rt.stored_certificates, merchant_id)
        return _certificates(merchant_id, certs)

    @app.put("/v1/merchants/{merchant_id}/certificates", tags=["certificates"], response_model=None,
             summary="Replace a merchant's certificate set", openapi_extra=schemas.certificates_body(settings),
             responses={200: {"model": schemas.CertificateList}, **cert_errors})
    async def replace_certificates(request: Request, merchant_id: str = _id(), key: ApiKey = cert_key):
        rt = _runtime(request)
        data = await _json_body(request)
        if not isinstance(data, dict) or not isinstance(data.get("certificates"), list):
            raise ApiError(422, "invalid_field", "expected an object with a list of certificates", "certificates")
        certs = await _put(rt, merchant_id, data["certificates"], True)
        return _certificates(merchant_id, certs)

    @app.delete("/v1/merchants/{merchant_id}/certificates", tags=["certificates"], response_model=None,
                summary="Delete all of a merchant's certificates",
                responses={200: {"model": schemas.Deleted}, **cert_errors})
    async def delete_all_certificates(request: Request, merchant_id: str = _id(), key: ApiKey = cert_key):
        rt = _runtime(request)
        n = await _in_thread(rt, rt.delete_certificates, merchant_id)
        return json_response({"merchant_id": merchant_id, "deleted": n})

    @app.get("/v1/merchants/{merchant_id}/certificates/{certificate_id}", tags=["certificates"],
             response_model=None, summary="One stored certificate",
             responses={200: {"description": "The certificate", "content": {"application/json": {
                 "schema": schemas.certificate_schema(settings, ())}}}, **schemas.errors(401, 403, 404, 422, 429, 503)})
    async def get_certificate(request: Request, merchant_id: str = _id(), certificate_id: str = _id(),
                              key: ApiKey = cert_key):
        rt = _runtime(request)
        certs = await _in_thread(rt, rt.stored_certificates, merchant_id)
        for c in certs:
            if c.certificate_id == certificate_id:
                return json_response(c.model_dump(mode="json"))
        raise ApiError(404, "not_found", "no such certificate for this merchant", "certificate_id")

    @app.put("/v1/merchants/{merchant_id}/certificates/{certificate_id}", tags=["certificates"],
             response_model=None, summary="Add or update one certificate",
             openapi_extra=schemas.certificate_body(settings),
             responses={200: {"description": "The stored certificate", "content": {"application/json": {
                 "schema": schemas.certificate_schema(settings, ())}}}, **cert_errors})
    async def put_certificate(request: Request, merchant_id: str = _id(), certificate_id: str = _id(),
                              key: ApiKey = cert_key):
        rt = _runtime(request)
        data = await _json_body(request)
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_field", "expected a JSON object", "(body)")
        if "certificate_id" in data and data["certificate_id"] != certificate_id:
            raise ApiError(409, "conflict", "does not match the certificate id in the path", "certificate_id")
        certs = await _put(rt, merchant_id, [{**data, "certificate_id": certificate_id}], False)
        return json_response(certs[0].model_dump(mode="json"))

    @app.delete("/v1/merchants/{merchant_id}/certificates/{certificate_id}", tags=["certificates"],
                response_model=None, summary="Delete one certificate",
                responses={200: {"model": schemas.Deleted}, **schemas.errors(401, 403, 404, 422, 429, 503)})
    async def delete_certificate(request: Request, merchant_id: str = _id(), certificate_id: str = _id(),
                                 key: ApiKey = cert_key):
        rt = _runtime(request)
        n = await _in_thread(rt, rt.delete_certificates, merchant_id, certificate_id)
        if not n:
            raise ApiError(404, "not_found", "no such certificate for this merchant", "certificate_id")
        return json_response({"merchant_id": merchant_id, "deleted": n})

    # --- operations --------------------------------------------------------------------------------
    @app.get("/healthz", tags=["operations"], summary="The process is alive", response_model=schemas.Health)
    async def healthz():
        return json_response({"status": "ok"})

    @app.get("/readyz", tags=["operations"], summary="Rulesets, models and database are ready",
             response_model=None, responses={200: {"model": schemas.Ready}, 503: {"model": schemas.Ready}})
    async def readyz(request: Request):
        rt = getattr(request.app.state, "runtime", None)
        if rt is None:
            return json_response({"status": "starting", "message": "the scanner is not loaded"}, 503)
        try:
            info = await _in_thread(rt, rt.ready)
        except Exception as exc:  # noqa: BLE001 - not ready, whatever the database said
            return json_response({"status": "unavailable", "message": f"database: {type(exc).__name__}"}, 503)
        return json_response({"status": "ready", **info})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_model=None,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format"}})
    async def prometheus():
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    _include_review_pages(app)
    return app


def _include_review_pages(app: FastAPI) -> None:
    """The reviewers' pages (/review), when that area is installed; they use this app's store."""
    try:
        from scanner.review.app import create_review_router
    except ImportError as exc:
        if exc.name and "scanner.review".startswith(exc.name):
            return
        raise
    app.include_router(create_review_router())


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _put(rt: Runtime, merchant_id: str, records: list, replace: bool):
    try:
        return await _in_thread(rt, rt.put_certificates, merchant_id, records, replace)
    except Conflict as exc:
        raise ApiError(409, "conflict", exc.message, exc.field, exc.record) from None
    except RecordError as exc:
        raise ApiError(422, "invalid_field", exc.message, exc.field, exc.record) from None


def _certificates(merchant_id: str, certs) -> Response:
    return json_response({"merchant_id": merchant_id, "certificates": [c.model_dump(mode="json") for c in certs]})
