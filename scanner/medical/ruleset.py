"""The medical family's own YAML sections (everything but `rules`), validated with pydantic.

`validate_extensions(extra)` is what scanner.rulesets calls; `MedicalConfig.from_extra` is
what the medical stage uses. Errors name the section and the field.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FDA_CLASSES = ("1", "2", "3", "N", "U", "F")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _lang_lists(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for lang, terms in value.items():
        if not isinstance(lang, str) or not (2 <= len(lang) <= 3):
            raise ValueError(f"language key {lang!r} is not a language code")
        if any(not isinstance(t, str) or not t.strip() for t in terms):
            raise ValueError(f"language {lang}: every term must be a non-empty string")
    return value


class CategoryEntry(_Strict):
    path: str = Field(min_length=1)
    device_type: str | None = None


class DeviceType(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    nmpa_class: int | None = Field(default=None, ge=1, le=3)
    fda_class: str | None = None
    fda_product_codes: list[str] = []
    fda_device_names: list[str] = []
    names: dict[str, list[str]]
    unless: list[str] = []   # words in the title that say the listing is not this device

    _names = field_validator("names")(_lang_lists)

    @field_validator("fda_class")
    @classmethod
    def _fda_class(cls, v):
        if v is not None and v not in FDA_CLASSES:
            raise ValueError(f"must be one of {FDA_CLASSES}")
        return v

    @field_validator("fda_product_codes")
    @classmethod
    def _codes(cls, v):
        for code in v:
            if not (len(code) == 3 and code.isalpha() and code.isupper()):
                raise ValueError(f"product code {code!r} is not three capital letters")
        return v


class FdaMatching(_Strict):
    min_name_tokens: int = Field(ge=1)
    score_cutoff: float = Field(ge=0, le=100)
    stop_words: list[str] = []


class ExpiryDay(_Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)


class CertificateSettings(_Strict):
    type: str
    category: str
    counted_status: list[str]
    scope_cutoff: float = Field(ge=0, le=100)
    device_name_cutoff: float = Field(ge=0, le=100)
    kinds: dict[str, str]
    fda_registration_expires: ExpiryDay


REQUIRED_MESSAGES = (
    "device", "device_unclassified", "china_missing", "fda_missing", "ce_missing", "no_certificate",
    "no_certificate_for", "not_approved", "scope_mismatch", "class_not_covered", "not_yet_valid", "expired",
    "registration_expired", "registration_future", "registration_no_year", "device_name_mismatch",
    "device_name_missing", "trading_path", "malformed_number", "unverified", "verify_mismatch",
)


class Confidence(_Strict):
    table: float = Field(ge=0, le=1)        # category, device-type table or NMPA number
    claim_only: float = Field(ge=0, le=1)   # a medical-purpose claim is all there is
    unverified: float = Field(ge=0, le=1)


class MedicalConfig(_Strict):
    categories: list[CategoryEntry]
    claim_only_excluded_categories: list[str] = []
    drug_forms: dict[str, list[str]] = {}
    claim_phrases: dict[str, list[str]]
    # phrases that deny a medical purpose ("not for medical use"): a claim phrase inside one is void
    claim_exceptions: dict[str, list[str]] = {}
    fda_class_rank: dict[str, int]
    fda_device_classes: list[str]
    matrix_class: int = Field(ge=1, le=3)
    fda_matching: FdaMatching
    device_types: list[DeviceType]
    class1_medical: list[DeviceType] = []
    everyday_goods: list[DeviceType] = []
    certificates: CertificateSettings
    messages: dict[str, str]
    confidence: Confidence
    example_certificates: list[dict[str, Any]] = []

    _claims = field_validator("claim_phrases", "claim_exceptions", "drug_forms")(_lang_lists)

    @field_validator("fda_class_rank")
    @classmethod
    def _rank(cls, v):
        missing = [c for c in FDA_CLASSES if c not in v]
        if missing:
            raise ValueError(f"needs a rank for FDA classes {missing}")
        return v

    @field_validator("messages")
    @classmethod
    def _messages(cls, v):
        missing = [k for k in REQUIRED_MESSAGES if k not in v]
        if missing:
            raise ValueError(f"missing messages {missing}")
        return v

    def all_types(self) -> list[tuple[str, DeviceType]]:
        """(tier, type) for every table entry: tier is device | class1 | everyday."""
        return ([("device", t) for t in self.device_types] + [("class1", t) for t in self.class1_medical]
                + [("everyday", t) for t in self.everyday_goods])

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> MedicalConfig:
        try:
            config = cls.model_validate(extra)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [str(p) for p in err["loc"]]
            section = loc[0] if loc else "(top level)"
            field = ".".join(loc[1:]) or "(section)"
            raise ValueError(f"medical section '{section}', field '{field}': {err['msg']}") from None
        ids = [t.id for _, t in config.all_types()]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"medical section 'device_types', field 'id': duplicate ids {dupes}")
        for entry in config.categories:
            if entry.device_type and entry.device_type not in ids:
                raise ValueError(f"medical section 'categories', field 'device_type': "
                                 f"unknown device type {entry.device_type!r} for {entry.path!r}")
        return config


def validate_extensions(extra: dict[str, Any]) -> None:
    """Called by scanner.rulesets for medical_devices.yaml: raises ValueError naming section and field."""
    MedicalConfig.from_extra(extra)
