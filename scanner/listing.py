"""The contract shapes of ../shared/CONTRACT.md: Listing and Certificate in, Verdict out.

Inputs are validated with pydantic; a bad record raises `RecordError`, which names
the record (listing_id, certificate_id or line number) and the offending field.
Outputs are plain slotted dataclasses: they are built on the hot path.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from scanner import limits

Decision = Literal["pass", "review", "restrict", "block"]
DECISION_ORDER: dict[str, int] = {"pass": 0, "review": 1, "restrict": 2, "block": 3}
Detector = Literal["keyword", "fuzzy", "pattern", "ml", "lookup", "certificate"]


class RecordError(ValueError):
    """A record that does not fit the contract: names the record and the field."""

    def __init__(self, record: str, field: str, message: str):
        self.record, self.field, self.message = record, field, message
        super().__init__(f"record {record}: field '{field}': {message}")


Item = Annotated[StrictStr, Field(max_length=limits.ITEM_CHARS)]
AttributeName = Annotated[StrictStr, Field(max_length=limits.ATTRIBUTE_NAME_CHARS)]


ATTRIBUTE_NAMES = "attribute_names"   # evidence field path root of an attribute's name


class Listing(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    listing_id: StrictStr = Field(min_length=1, max_length=limits.ID_CHARS)
    merchant_id: StrictStr = Field(min_length=1, max_length=limits.ID_CHARS)
    title: StrictStr = Field(max_length=limits.TITLE_CHARS)
    description: StrictStr | None = Field(default=None, max_length=limits.DESCRIPTION_CHARS)
    category: StrictStr | None = Field(default=None, max_length=limits.CATEGORY_CHARS)
    attributes: dict[AttributeName, Item] = Field(default_factory=dict, max_length=limits.MAX_ATTRIBUTES)
    keywords: list[Item] = Field(default_factory=list, max_length=limits.MAX_LIST_ITEMS)
    image_texts: list[Item] = Field(default_factory=list, max_length=limits.MAX_LIST_ITEMS)
    target_markets: list[StrictStr] | None = Field(default=None, max_length=limits.MAX_MARKETS)

    def text_fields(self) -> tuple[tuple[str, str], ...]:
        """Every searchable text as (field path, value); the paths are what evidence names."""
        return self._text_fields

    @functools.cached_property
    def _text_fields(self) -> tuple[tuple[str, str], ...]:  # asked for by several stages of one scan
        out = [("title", self.title)]
        if self.description:
            out.append(("description", self.description))
        for name, value in self.attributes.items():
            # the attribute name often carries the meaning ("Nicotine Strength": "20mg"); its
            # path names no string of the listing (attributes are name -> value), so a reader
            # that resolves paths finds no text to check offsets against and skips it
            out.append((f"{ATTRIBUTE_NAMES}.{name}", name))
            out.append((f"attributes.{name}", value))
        for i, value in enumerate(self.keywords):
            out.append((f"keywords[{i}]", value))
        for i, value in enumerate(self.image_texts):
            out.append((f"image_texts[{i}]", value))
        return tuple(out)


class Certificate(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    certificate_id: StrictStr = Field(min_length=1, max_length=limits.ID_CHARS)
    merchant_id: StrictStr = Field(min_length=1, max_length=limits.ID_CHARS)
    type: StrictStr = "country_restricted_access"
    category: StrictStr = "medical_device_overseas"
    kind: Literal[
        "nmpa_production_license", "nmpa_business_license", "authorization", "nmpa_registration",
        "fda_establishment_registration", "fda_510k", "fda_pma", "ce_certificate",
    ]
    number: StrictStr = Field(default="", max_length=limits.ID_CHARS)
    scope: StrictStr = Field(default="", max_length=limits.CATEGORY_CHARS)
    registration_year: StrictInt | None = None
    device_name: StrictStr | None = Field(default=None, max_length=limits.CATEGORY_CHARS)
    device_classes: list[StrictInt] = Field(default_factory=list)
    product_code: StrictStr | None = Field(default=None, max_length=16)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    status: Literal["approved", "pending", "rejected"] = "approved"


def _record_error(kind: str, data: Any, line: int | None, exc: ValidationError) -> RecordError:
    key = {"listing": "listing_id", "certificate": "certificate_id"}[kind]
    ident = data.get(key) if isinstance(data, dict) else None
    record = f"{kind} {ident!r}" if isinstance(ident, str) and ident else f"{kind}"
    if line is not None:
        record += f" (line {line})"
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"]) or "(record)"
    return RecordError(record, path, err["msg"])


def _parse(kind: str, model: type[BaseModel], data: Any, line: int | None):
    if isinstance(data, model):
        return data
    if not isinstance(data, dict):
        raise RecordError(f"{kind} (line {line})" if line else kind, "(record)", "expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _record_error(kind, data, line, exc) from None


def parse_listing(data: Any, line: int | None = None) -> Listing:
    return _parse("listing", Listing, data, line)


def parse_certificate(data: Any, line: int | None = None) -> Certificate:
    return _parse("certificate", Certificate, data, line)


@dataclass(slots=True)
class Evidence:
    field: str
    start: int
    end: int
    text: str
    detector: str


@dataclass(slots=True)
class Finding:
    rule: str
    grade: str | None
    points: int
    blocked_markets: list[str]
    confidence: float
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    outcome: str = "block"


@dataclass(slots=True)
class Verdict:
    listing_id: str
    decision: str
    blocked_markets: list[str]
    points: int
    findings: list[Finding]
    ruleset_version: str
    model_version: str
    as_of: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
