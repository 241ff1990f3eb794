"""Rulesets: the policy as data (rulesets/*.yaml), validated with pydantic.

A ruleset that fails validation is refused as a whole with an error naming the file,
the rule and the field: the scanner never starts on a half-valid policy.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "rulesets"
SHARED_FILES = ("markets.yaml", "attributes.yaml")   # every other *.yaml there is one family
LANGUAGES = ("en", "zh", "es", "pt", "fr", "de", "ru", "ar", "ja", "ko", "tr", "vi", "th", "id", "it", "pl", "nl")
# Families whose YAML carries extra sections, and the function that validates them.
EXTENSIONS = {"medical_device": "scanner.medical.ruleset:validate_extensions"}


class RulesetError(ValueError):
    """A ruleset that cannot be loaded; the message names file, rule and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Terms(_Strict):
    """Terms per language; each list is matched after normalisation."""

    en: list[str] = []
    zh: list[str] = []
    es: list[str] = []
    pt: list[str] = []
    fr: list[str] = []
    de: list[str] = []
    ru: list[str] = []
    ar: list[str] = []
    ja: list[str] = []
    ko: list[str] = []
    tr: list[str] = []
    vi: list[str] = []
    th: list[str] = []
    id: list[str] = []
    it: list[str] = []
    pl: list[str] = []
    nl: list[str] = []

    def by_language(self):
        for lang in LANGUAGES:
            for term in getattr(self, lang):
                yield lang, term

    def __bool__(self) -> bool:
        return any(True for _ in self.by_language())


class TermGroup(Terms):
    """One kind of evidence. A group counts once per listing, with its weight."""

    name: str
    weight: float = 1.0
    fuzzy: bool = False          # also match misspellings of its single-word terms
    unless: Terms = Terms()      # hits of this group are void when any of these occur in `unless_fields`
    unless_fields: list[str] = ["title", "category"]
    fields: list[str] = []       # restrict to these fields ("title", "description", "category", ...)
    match: Literal["auto", "substring"] = "auto"  # substring: also inside longer words (drug-name stems)
    corroborates: bool = True    # may its hits confirm a classifier's block (false: audience words like "for men")


class Requirement(_Strict):
    """Satisfied when any of the named groups has a hit or the category is under a prefix."""

    groups: list[str] = []
    categories: list[str] = []
    patterns: list[str] = []


class CategoryConstraint(_Strict):
    """`outside`: fire only when the listing's category is NOT under any of these paths."""

    outside: list[str] = []
    inside: list[str] = []


class Measurement(_Strict):
    """Blade measurements: fire when any threshold holds (POLICY.md §3)."""

    length_pattern: str                         # the pattern that reads blade lengths (mm)
    angle_pattern: str                          # the pattern that reads tip angles (degrees)
    applies_to: list[str]                       # groups that say the listing is a blade
    exempt: list[str] = []                      # groups that exempt it (kitchen knives...)
    # exempt groups that are things sold beside a knife (scissors, saws): in the title they exempt only
    # a blade named in their own item, the items split by `item_separators` ("IFAK: tourniquet, trauma
    # shears and a 7.5 in fixed blade")
    item_scoped: list[str] = []
    item_separators: list[str] = []
    thresholds: list[dict[str, float]]          # {tip_angle_below|tip_angle_at_least: deg, blade_longer_than_mm: mm}
    pointed_tip_groups: list[str] = []          # a tip shape that implies an angle below `pointed_tip_angle`
    rounded_tip_groups: list[str] = []
    pointed_tip_angle: float
    rounded_tip_angle: float
    unknown_tip_angle: float


class Example(_Strict):
    listing: dict[str, Any] | None = None
    title: str | None = None
    description: str | None = None
    category: str | None = None
    attributes: dict[str, str] | None = None
    keywords: list[str] | None = None
    image_texts: list[str] | None = None
    target_markets: list[str] | None = None
    certificates: list[dict[str, Any]] = []
    as_of: dt.date | None = None
    span: str | None = None
    note: str | None = None

    def as_listing(self, listing_id: str) -> dict[str, Any]:
        if self.listing is not None:
            data = dict(self.listing)
        else:
            data = {k: v for k, v in self.model_dump(
                include={"title", "description", "category", "attributes", "keywords", "image_texts",
                         "target_markets"}).items() if v is not None}
        data.setdefault("listing_id", listing_id)
        data.setdefault("merchant_id", "EXAMPLE")
        data.setdefault("title", "")
        return data


class Examples(_Strict):
    fire: list[Example]
    pass_: list[Example] = Field(alias="pass")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z_]+/[a-z0-9_]+$")
    title: str
    outcome: Literal["block", "restrict", "review"]
    grade: Literal["A", "B"] | None
    points: int = Field(ge=0)
    markets: list[str] = Field(min_length=1)
    effective: dt.date | None = None
    reason: str
    threshold: float | None = None
    terms: list[TermGroup] = []
    exceptions: Terms = Terms()          # a hit inside one of these phrases is not a hit ("vape-free")
    patterns: dict[str, float] = {}      # pattern name -> weight
    pattern_triggers: list[str] = []     # groups whose evidence makes the (slower) pattern stage run
    requires: list[Requirement] = []
    category: CategoryConstraint | None = None
    measurement: Measurement | None = None
    ml_family_rule: bool = False         # the family's most likely rule for a corroborated ML signal
    examples: Examples

    @model_validator(mode="after")
    def _groups_exist(self):
        names = [g.name for g in self.terms]
        if len(set(names)) != len(names):
            raise ValueError("term group names must be unique within a rule")
        wanted = [n for r in self.requires for n in r.groups] + self.pattern_triggers
        if self.measurement:
            m = self.measurement
            wanted += m.applies_to + m.exempt + m.pointed_tip_groups + m.rounded_tip_groups
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise ValueError(f"names unknown term groups: {missing}")
        if not self.examples.fire or not self.examples.pass_:
            raise ValueError("a rule needs examples that must fire and examples that must pass")
        return self


class PatternDefinition(_Strict):
    """A structured quantity the patterns detector reads (blade length, nicotine strength...).

    kind: quantity (number + unit, converted by the unit's factor), count (number + unit),
    ratio (n/m next to a context word, or n% next to one).
    """

    kind: Literal["quantity", "count", "ratio"]
    units: dict[str, float] = {}
    context: list[str] = []             # single words, one of which must be within `window` tokens
    exclude_context: list[str] = []     # words within `window` that make the number something else
    window: int = 3
    attribute_keys: list[str] = []      # an attribute whose name contains one of these needs no context


class Defaults(_Strict):
    threshold: float = 1.0
    fuzzy_cutoff: float = 88.0
    fuzzy_min_length: int = 6
    fuzzy_factor: float = 0.9            # confidence factor when all evidence is fuzzy
    confidence_at_threshold: float = 0.85
    confidence_max: float = 0.99
    allow_words: list[str] = []          # ordinary words fuzzy matching must never turn into a term


class MLThresholds(_Strict):
    review: float
    block: float
    # categories (and their subcategories) where the family's products may be listed: there only
    # the rules judge, since the classifier tells the family, not what the rules forbid in it
    not_in_categories: list[str] = []
    # a corroborated classifier block names the rule whose own terms and patterns corroborate it
    # most (handcuffs the restraint rule, not the family's `ml_family_rule`); for a classifier that
    # means one rule (e-liquid) the family rule stays
    rule_from_support: bool = False


class Family(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str
    version: str
    notice: dt.date | None = None
    defaults: Defaults = Defaults()
    ml: MLThresholds | None = None
    pattern_definitions: dict[str, PatternDefinition] = {}
    rules: list[Rule]
    extra: dict[str, Any] = {}
    source: str = ""

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules):
        ids = [r.id for r in rules]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate rule ids")
        return rules

    @model_validator(mode="after")
    def _ids_in_family(self):
        for r in self.rules:
            if r.id.split("/")[0] != self.family:
                raise ValueError(f"rule {r.id} does not belong to family {self.family}")
            read = set(r.patterns)
            if r.measurement:
                read |= {r.measurement.length_pattern, r.measurement.angle_pattern}
            unknown = sorted(read - set(self.pattern_definitions))
            if unknown:
                raise ValueError(f"rule {r.id} uses undefined patterns {unknown}")
        return self


class Markets(_Strict):
    version: str
    groups: dict[str, list[str]]

    _expanded: dict[tuple[str, ...], frozenset[str]] = PrivateAttr(default_factory=dict)

    def expand(self, markets) -> set[str]:
        """Market codes with groups ("EU") expanded; a new set the caller may change."""
        key = tuple(markets)
        found = self._expanded.get(key)
        if found is None:
            found = frozenset(c for m in key for c in self.groups.get(m.upper(), [m.upper()]))
            if len(self._expanded) < 4096:  # target-market lists repeat; hostile input cannot grow it
                self._expanded[key] = found
        return set(found)


class AttributeReading(_Strict):
    """How attribute values are read (attributes.yaml)."""

    version: str
    # a value that is only one of these denies its name ("Wrist Brace": "No"): the name is not evidence
    denials: Terms = Terms()

    @functools.cached_property
    def denial_values(self) -> frozenset[str]:
        from scanner.text import normalise_term
        return frozenset(normalise_term(t) for _, t in self.denials.by_language())


class Rulesets:
    """All families, the market groups, and the combined version."""

    def __init__(self, families: dict[str, Family], markets: Markets, version: str, directory: Path,
                 attributes: AttributeReading | None = None):
        self.families = families
        self.markets = markets
        self.attributes = attributes or AttributeReading(version="none")
        self.version = version
        self.directory = directory
        self.rules: dict[str, Rule] = {r.id: r for f in families.values() for r in f.rules}
        self.family_of: dict[str, Family] = {r.id: f for f in families.values() for r in f.rules}
        # rules the policy must look at even without a signal of their own
        self.unconditional: set[str] = {r.id for r in self.rules.values() if r.measurement or r.category}


def _describe(path: Path, data: dict, exc: ValidationError) -> str:
    lines = [f"invalid ruleset {path.name}:"]
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            try:
                where = f"rule {data['rules'][loc[1]].get('id', '#' + str(loc[1]))}, "
            except (IndexError, KeyError, AttributeError, TypeError):
                where = f"rule #{loc[1]}, "
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or "(rule)"
        lines.append(f"  {where}field '{field}': {err['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesetError(f"invalid ruleset {path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RulesetError(f"invalid ruleset {path.name}: expected a mapping at the top level")
    return data


def _load_family(path: Path) -> Family:
    data = _read_yaml(path)
    known = set(Family.model_fields) - {"extra", "source"}
    # "x-" keys only hold YAML anchors shared by several rules
    extra = {k: v for k, v in data.items() if k not in known and not k.startswith("x-")}
    core = {k: v for k, v in data.items() if k in known}
    try:
        family = Family.model_validate({**core, "extra": extra, "source": path.name})
    except ValidationError as exc:
        raise RulesetError(_describe(path, core, exc)) from None
    if extra:
        target = EXTENSIONS.get(family.family)
        if target is None:
            raise RulesetError(f"invalid ruleset {path.name}: unknown sections {sorted(extra)}")
        module, func = target.split(":")
        try:
            getattr(importlib.import_module(module), func)(extra)
        except (ValidationError, ValueError) as exc:
            raise RulesetError(f"invalid ruleset {path.name}: {exc}") from None
    return family


def load_rulesets(directory: Path | str | None = None) -> Rulesets:
    directory = Path(directory) if directory else DEFAULT_DIR
    if not directory.is_dir():
        raise RulesetError(f"ruleset directory {directory} does not exist")
    markets_path = directory / "markets.yaml"
    if not markets_path.exists():
        raise RulesetError(f"invalid rulesets in {directory}: markets.yaml is missing")
    try:
        markets = Markets.model_validate(_read_yaml(markets_path))
    except ValidationError as exc:
        raise RulesetError(_describe(markets_path, {}, exc)) from None
    attributes = None
    attributes_path = directory / "attributes.yaml"
    if attributes_path.exists():   # optional: without it every attribute name is searched
        try:
            attributes = AttributeReading.model_validate(_read_yaml(attributes_path))
        except ValidationError as exc:
            raise RulesetError(_describe(attributes_path, {}, exc)) from None
    families: dict[str, Family] = {}
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        if path.name in SHARED_FILES:
            continue
        family = _load_family(path)
        if family.family in families:
            raise RulesetError(f"invalid ruleset {path.name}: family {family.family} is defined twice")
        families[family.family] = family
    if not families:
        raise RulesetError(f"no rulesets found in {directory}")
    version = f"{markets.version}+{digest.hexdigest()[:10]}"
    return Rulesets(families, markets, version, directory, attributes)
