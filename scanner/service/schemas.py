"""OpenAPI shapes. Requests are read with orjson and the contract parser (scanner.listing), so a bad
record gets the contract's error naming its field; these models document the wire format, and
schemathesis checks every response against them."""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

from scanner.listing import Certificate, Listing
from scanner.service.limits import INT64, STRING_FIELDS
from scanner.service.settings import Settings


class Error(BaseModel):
    error: str
    message: str
    field: str | None = None
    record: str | None = None
    status: int


class EvidenceOut(BaseModel):
    field: str
    start: int
    end: int
    text: str
    detector: str


class FindingOut(BaseModel):
    rule: str
    grade: str | None
    points: int
    blocked_markets: list[str]
    confidence: float
    reason: str
    evidence: list[EvidenceOut]
    outcome: str


class VerdictOut(BaseModel):
    listing_id: str
    decision: Literal["pass", "review", "restrict", "block"]
    blocked_markets: list[str]
    points: int
    findings: list[FindingOut]
    ruleset_version: str
    model_version: str
    as_of: str
    notes: list[str]


class BatchItem(BaseModel):
    index: int
    listing_id: str | None = None
    verdict: VerdictOut | None = None
    error: Error | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]
    scanned: int
    errors: int


class StoredVerdict(BaseModel):
    seq: int
    decision: str
    blocked_markets: list[str]
    points: int
    ruleset_version: str
    model_version: str
    as_of: dt.date
    created_at: dt.datetime      # UTC
    notes: list[Any]
    findings: list[dict[str, Any]]


class VerdictHistory(BaseModel):
    listing_id: str
    latest: StoredVerdict
    history: list[StoredVerdict]


class CertificateList(BaseModel):
    merchant_id: str
    certificates: list[dict[str, Any]]


class Deleted(BaseModel):
    merchant_id: str
    deleted: int


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    rulesets: str | None = None
    models: str | None = None
    database: str | None = None
    rules: int | None = None
    message: str | None = None


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Malformed JSON", 401: "No key or an unknown key", 403: "The key's scope does not allow this",
            404: "Not found", 409: "An id conflicts with the path or with a stored record", 413: "Request body too large", 422: "A field is missing, has the wrong type or is too long",
            429: "Rate limit exceeded (see Retry-After)", 503: "Not ready, or the store is unavailable"}
    return {c: {"model": Error, "description": text[c]} for c in codes}


def _body(schema: dict, description: str) -> dict:
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}




def _bound_integers(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.setdefault("minimum", INT64[0])
            node.setdefault("maximum", INT64[1])
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)
    return node


def _max_length(prop: dict, limit: int) -> None:
    """Tighten maxLength on a string property (or its string branch of anyOf)."""
    for node in prop.get("anyOf", [prop]):
        if node.get("type") == "string":
            node["maxLength"] = min(node.get("maxLength", limit), limit)


def listing_schema(settings: Settings) -> dict:
    """The contract's listing schema with this service's configured bounds."""
    schema = copy.deepcopy(Listing.model_json_schema())
    props = schema["properties"]
    for name, limit in settings.field_chars.items():
        if name in props:
            _max_length(props[name], limit)
    for name in ("keywords", "image_texts"):
        props[name]["maxItems"] = min(props[name].get("maxItems", settings.max_items), settings.max_items)
        props[name]["items"]["maxLength"] = settings.max_text_chars
    attrs = props["attributes"]
    attrs["maxProperties"] = min(attrs.get("maxProperties", settings.max_items), settings.max_items)
    attrs["additionalProperties"]["maxLength"] = settings.max_text_chars
    attrs["propertyNames"] = {"maxLength": settings.max_text_chars}
    return _bound_integers(schema)


def certificate_schema(settings: Settings, from_path: tuple[str, ...]) -> dict:
    """Fields in `from_path` come from the URL path: optional in the body, and must match if given."""
    schema = copy.deepcopy(Certificate.model_json_schema())
    schema["required"] = [r for r in schema.get("required", []) if r not in from_path]
    for name, prop in schema["properties"].items():
        if name in STRING_FIELDS:
            _max_length(prop, settings.field_chars.get(name, settings.max_text_chars))
    return _bound_integers(schema)


def scan_body(settings: Settings) -> dict:
    return _body(listing_schema(settings), "One listing in the contract's shape (unknown fields are ignored).")


def batch_body(settings: Settings) -> dict:
    # any item is accepted: one that is not a valid listing gets an error entry, the rest are scanned
    item = {"anyOf": [listing_schema(settings), {}],
            "description": "A listing in the contract's shape; anything else gets an error of its own."}
    return _body({"type": "object", "required": ["listings"],
                  "properties": {"listings": {"type": "array", "maxItems": settings.max_batch, "items": item}}},
                 f"At most {settings.max_batch} listings; each gets a verdict or an error of its own.")


def certificate_body(settings: Settings) -> dict:
    return _body(certificate_schema(settings, ("merchant_id", "certificate_id")),
                 "One certificate; merchant and certificate id default to the path (409 if they differ).")


def certificates_body(settings: Settings) -> dict:
    items = certificate_schema(settings, ("merchant_id",))
    return _body({"type": "object", "required": ["certificates"],
                  "properties": {"certificates": {"type": "array", "items": items}}},
                 "The merchant's whole certificate set: certificates not listed are deleted.")
