"""Request limits: body size (413) and per-field lengths (422 naming the field)."""
from __future__ import annotations

from typing import Any

import orjson

from scanner.service.settings import Settings

LIST_FIELDS = ("keywords", "image_texts")       # target_markets: the contract's bound (every country fits)
INT64 = (-(2 ** 63), 2 ** 63 - 1)
# contract string fields of a listing or a certificate (unknown fields are ignored, bounded by the body size)
STRING_FIELDS = frozenset(("listing_id", "merchant_id", "title", "description", "category", "certificate_id",
                           "type", "kind", "number", "scope", "device_name", "product_code", "status"))
SHOWN_KEY_CHARS = 60


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"request body is larger than {limit} bytes")


class FieldTooLong(ValueError):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"field '{field}': {message}")


def _shown(key: str) -> str:
    return key if len(key) <= SHOWN_KEY_CHARS else key[:SHOWN_KEY_CHARS] + "…"


def _int_out_of_range(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]


def check_fields(data: Any, settings: Settings, prefix: str = "") -> None:
    """Raise FieldTooLong for the first contract field over its configured bound.
    Types are not checked here: the contract parser reports those."""
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        if isinstance(value, str):
            limit = settings.field_chars.get(name, settings.max_text_chars)
            if name in STRING_FIELDS and len(value) > limit:
                raise FieldTooLong(prefix + name, f"longer than {limit} characters ({len(value)})")
        elif _int_out_of_range(value) or name == "device_classes" and isinstance(value, list) and any(map(_int_out_of_range, value)):
            raise FieldTooLong(prefix + name, "integer out of the 64-bit range")
        elif name == "attributes" and isinstance(value, dict):
            if len(value) > settings.max_items:
                raise FieldTooLong(prefix + name, f"more than {settings.max_items} attributes ({len(value)})")
            for key, item in value.items():
                if len(key) > settings.max_text_chars:
                    raise FieldTooLong(f"{prefix}attributes.{_shown(key)}",
                                       f"attribute name longer than {settings.max_text_chars} characters")
                if isinstance(item, str) and len(item) > settings.max_text_chars:
                    raise FieldTooLong(f"{prefix}attributes.{_shown(key)}",
                                       f"longer than {settings.max_text_chars} characters ({len(item)})")
        elif name in LIST_FIELDS and isinstance(value, list):
            if len(value) > settings.max_items:
                raise FieldTooLong(prefix + name, f"more than {settings.max_items} items ({len(value)})")
            for i, item in enumerate(value):
                if isinstance(item, str) and len(item) > settings.max_text_chars:
                    raise FieldTooLong(f"{prefix}{name}[{i}]",
                                       f"longer than {settings.max_text_chars} characters ({len(item)})")


class BodyLimit:
    """ASGI middleware: refuse bodies over `limit` bytes with 413, by Content-Length up front or
    while the body streams in (chunked uploads), before the app buffers it."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    return await too_large(send, self.limit)
                break
        seen = 0
        limit = self.limit

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def error_body(status: int, error: str, message: str, field: str | None = None,
               record: str | None = None) -> bytes:
    return orjson.dumps({"error": error, "message": message, "field": field, "record": record,
                         "status": status})


async def too_large(send, limit: int) -> None:
    body = error_body(413, "body_too_large", f"request body is larger than {limit} bytes", "(body)")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
