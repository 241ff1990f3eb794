"""The Scanner: built once (rulesets, automata, models), then scans listings fast.

    scanner = Scanner.load()
    verdict = scanner.scan({"listing_id": "L-1", "merchant_id": "M-1", "title": "..."})
"""
from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from scanner.detectors.base import Signal
from scanner.detectors.fuzzy import FuzzyIndex
from scanner.detectors.keywords import KeywordIndex, Match, term_variants
from scanner.detectors.patterns import PatternIndex
from scanner.listing import ATTRIBUTE_NAMES, Certificate, Listing, Verdict, parse_certificate, parse_listing
from scanner.policy import ListingSignals, normal_path, verdict
from scanner.rulesets import Rulesets, load_rulesets
from scanner.text import TEXT_SEPARATOR, Doc, normalise

BATCH = 64


class Scanner:
    def __init__(self, rulesets: Rulesets, medical=None, classifiers=None):
        self.rulesets = rulesets
        # the medical identifier's terms ride along in the keyword pass (kind "extra")
        self.keywords = KeywordIndex(rulesets, medical.identifier.terms if medical is not None else None)
        vocabulary = {v for r in rulesets.rules.values() for g in r.terms for _, t in g.by_language()
                      for v in term_variants(t)}
        self.fuzzy = FuzzyIndex(rulesets, vocabulary)
        self.patterns = PatternIndex(rulesets)
        self.medical = medical
        self.classifiers = classifiers
        self._groups = {(r.id, g.name): g for r in rulesets.rules.values() for g in r.terms}
        self._denials = rulesets.attributes.denial_values
        # patterns (spaCy) run only for a listing in which a rule that reads them has evidence
        self._pattern_triggers = {r.id: set(r.pattern_triggers) for r in rulesets.rules.values() if r.patterns}

    @classmethod
    def load(cls, rulesets_dir: str | Path | None = None, models_dir: str | Path | None = None,
             store=None) -> Scanner:
        """Build once. `store` (optional) supplies the imported FDA table and the lookup cache."""
        rulesets = load_rulesets(rulesets_dir)
        return cls(rulesets, medical=_load_medical(rulesets, store), classifiers=_load_classifiers(models_dir))

    @property
    def ruleset_version(self) -> str:
        return self.rulesets.version

    @property
    def model_version(self) -> str:
        return getattr(self.classifiers, "version", None) or "none"

    # -- scanning ---------------------------------------------------------------------------------

    def scan(self, listing: Listing | dict, certificates: Sequence[Certificate | dict] = (),
             as_of: dt.date | str | None = None, excepted: set[str] = frozenset()) -> Verdict:
        listing = parse_listing(listing)
        certs = [parse_certificate(c) for c in certificates]
        return self._scan_one(listing, [c for c in certs if c.merchant_id == listing.merchant_id],
                              _as_date(as_of), excepted)

    def scan_many(self, listings: Iterable[Listing | dict], certificates: Sequence[Certificate | dict] = (),
                  as_of: dt.date | str | None = None) -> Iterator[Verdict]:
        by_merchant: dict[str, list[Certificate]] = {}
        for c in certificates:
            c = parse_certificate(c)
            by_merchant.setdefault(c.merchant_id, []).append(c)
        day = _as_date(as_of)
        batch: list[Listing] = []
        for listing in listings:
            batch.append(parse_listing(listing))
            if len(batch) == BATCH:
                yield from self._scan_batch(batch, by_merchant, day)
                batch = []
        yield from self._scan_batch(batch, by_merchant, day)

    def _scan_batch(self, batch: list[Listing], by_merchant: dict[str, list[Certificate]],
                    as_of: dt.date) -> Iterator[Verdict]:
        probabilities = self._predict(batch)
        docs = [self.documents(listing) for listing in batch]
        terms = self._term_search(docs)
        for k, listing in enumerate(batch):
            row = None if probabilities is None else probabilities[k]
            yield self._scan_one(listing, by_merchant.get(listing.merchant_id, []), as_of, probabilities=row,
                                 prepared=(docs[k], terms[k]))

    def _predict(self, listings: list[Listing]):
        """Each family's probability per listing (one matrix product per batch), or None."""
        if self.classifiers is None or not listings:
            return None
        from scanner.ml.document import model_text
        return self.classifiers.predict([model_text(listing) for listing in listings])

    def _scan_one(self, listing: Listing, certificates: list[Certificate], as_of: dt.date,
                  excepted: set[str] = frozenset(), probabilities=None, prepared=None) -> Verdict:
        """`prepared`: (documents, term search) when the batch computed them already."""
        if probabilities is None and self.classifiers is not None:
            probabilities = self._predict([listing])[0]
        docs, terms = prepared if prepared is not None else (self.documents(listing), None)
        extra: list = []
        signals = self.signals(listing, docs, extra, terms)
        if probabilities is not None:
            self._add_ml(listing, signals, probabilities)
        if self.medical is not None:
            found = [(name, m.start, m.end, *m.ref.group, m.obfuscated) for name, m in extra]
            signals.hits.extend(self.medical.assess(listing, certificates, as_of, dict(docs), found))
        return verdict(listing.listing_id, listing.target_markets, signals, self.rulesets, as_of,
                       self.model_version, excepted)

    def documents(self, listing: Listing) -> list[tuple[str, Doc]]:
        """Every text field of the listing, normalised, by field path. An attribute's name is
        left out when its value denies it ("Wrist Brace": "No")."""
        fields = listing.text_fields()
        if listing.category:
            fields = (*fields, ("category", listing.category))
        docs = [(name, normalise(value, html=name == "description")) for name, value in fields]
        if listing.attributes and self._denials:
            denied = {ATTRIBUTE_NAMES + path.removeprefix("attributes") for path, doc in docs
                      if path.startswith("attributes.") and doc.text.strip() in self._denials}
            if denied:
                docs = [d for d in docs if d[0] not in denied]
        return docs

    def signals(self, listing: Listing, docs: list[tuple[str, Doc]] | None = None,
                extra: list | None = None, terms=None) -> ListingSignals:
        """Keyword, fuzzy and pattern signals of one listing, by rule. The medical identifier's
        term matches (field, match) are appended to `extra` when it is given. `terms`: this
        listing's entry of `_term_search`, when a batch searched already."""
        if docs is None:
            docs = self.documents(listing)
        ls = ListingSignals(category=normal_path(listing.category or ""), title=listing.title or "")
        matches, fuzzy = terms if terms is not None else self._term_search([docs])[0]
        if extra is not None:
            extra.extend(x for x in matches if x[1].ref.kind == "extra")
        self._add_terms(ls, matches, fuzzy)
        families = {rule.split("/")[0] for rule, sigs in ls.by_rule.items() if self._needs_patterns(rule, sigs)}
        if families:
            for name, doc in docs:
                if name == "category" or name.startswith(("keywords", ATTRIBUTE_NAMES)):
                    continue   # an attribute's name is read with its value (`key`)
                key = name.split(".", 1)[1] if name.startswith("attributes.") else None
                for p in self.patterns.find(doc, families, key):
                    ls.patterns[p.name].append(Signal("", name, p.start, p.end, p.text, 1.0, "pattern",
                                                      p.name, p.name, p.value))
        return ls

    def _term_search(self, batch: list[list[tuple[str, Doc]]]) -> list[tuple[list, list]]:
        """Exact and fuzzy term matches per listing, as (field, match) pairs with offsets in the
        field's original text.

        Each listing's fields are searched as one text, joined by a separator no term contains
        (per-field overhead dominated the cost of a listing); the fuzzy stage looks at the words
        of the whole batch at once (most are known clean; one set operation settles them).
        """
        joined = [_Joined(docs) for docs in batch]
        exact = self.keywords.find_many([j.whole for j in joined])
        fuzzy = self.fuzzy.find_many([j.whole for j in joined],
                                     [[(m.start, m.end) for m in ms if m.ref.kind != "extra"] for ms in exact])
        return [(j.locate(e), j.locate(f)) for j, e, f in zip(joined, exact, fuzzy)]

    def _add_ml(self, listing: Listing, signals: ListingSignals, probabilities) -> None:
        """Families whose probability reaches their review threshold, with the n-grams that
        contributed most as evidence (explaining costs more than predicting: only then)."""
        from scanner.ml import field_span, listing_text
        text = None
        for k, family_name in enumerate(self.classifiers.families):
            family = self.rulesets.families.get(family_name)
            p = float(probabilities[k])
            if family is None or family.ml is None or p < family.ml.review:
                continue
            text = text if text is not None else listing_text(listing)
            evidence = []
            for start, end, _ in self.classifiers.explain(text, family_name, k=3):
                where = field_span(listing, start, end)
                if where is not None:
                    field, s, e = where
                    value = _field_value(listing, field)
                    if value is not None and 0 <= s < e <= len(value):
                        evidence.append(Signal("", field, s, e, value[s:e], p, "ml", "", family_name))
            signals.ml[family_name] = (p, evidence)

    def _needs_patterns(self, rule_id: str, signals: list[Signal]) -> bool:
        """Run spaCy for a rule only when a trigger group has evidence and terms alone don't decide."""
        triggers = self._pattern_triggers.get(rule_id)
        if not triggers or not any(s.group in triggers for s in signals):
            return False
        best: dict[str, float] = {}
        for s in signals:
            best[s.group] = max(best.get(s.group, 0.0), s.weight)
        rule = self.rulesets.rules[rule_id]
        threshold = rule.threshold if rule.threshold is not None else \
            self.rulesets.family_of[rule_id].defaults.threshold
        return sum(best.values()) < threshold

    def _add_terms(self, ls: ListingSignals, matches: list[tuple[str, Match]], fuzzy) -> None:
        exceptions: dict[tuple[str, str], list[tuple[int, int]]] = {}
        unless: set[tuple[str, str]] = set()
        for name, m in matches:
            ref = m.ref
            if ref.kind == "exception":
                exceptions.setdefault((ref.rule, name), []).append((m.start, m.end))
            elif ref.kind == "unless":
                group = self._groups[(ref.rule, ref.group)]
                if _field_root(name) in group.unless_fields:
                    unless.add((ref.rule, ref.group))

        def void(rule: str, group: str, name: str, start: int, end: int) -> bool:
            if (rule, group) in unless:
                return True
            group_fields = self._groups[(rule, group)].fields
            if group_fields and _field_root(name) not in group_fields:
                return True
            return any(s <= start and end <= e for s, e in exceptions.get((rule, name), ()))

        for name, m in matches:
            ref = m.ref
            if ref.kind == "term" and not void(ref.rule, ref.group, name, m.start, m.end):
                ls.by_rule[ref.rule].append(Signal(ref.rule, name, m.start, m.end, m.text, ref.weight,
                                                   "keyword", ref.term, ref.group))
        for name, f in fuzzy:
            ref = f.ref
            if not void(ref.rule, ref.group, name, f.start, f.end):
                ls.by_rule[ref.rule].append(Signal(ref.rule, name, f.start, f.end, f.text, ref.weight,
                                                   "fuzzy", ref.term, ref.group))


class _Joined:
    """A listing's normalised fields joined into one searchable text, and the way back."""

    __slots__ = ("bounds", "docs", "texts", "whole")

    def __init__(self, docs: list[tuple[str, Doc]]):
        self.docs = docs
        self.texts = [doc.text for _, doc in docs]
        text = TEXT_SEPARATOR.join(self.texts)
        self.bounds, pos = [], 0
        for t in self.texts:
            self.bounds.append(pos)
            pos += len(t) + len(TEXT_SEPARATOR)
        self.whole = Doc(text, text)

    def locate(self, matches: list) -> list[tuple[str, Any]]:
        """(field, match) with the match's offsets moved into its field's original text; matches
        that cross a field boundary are dropped."""
        out = []
        for match in matches:
            i = bisect_right(self.bounds, match.start) - 1
            base = self.bounds[i]
            if match.end - base > len(self.texts[i]):
                continue
            name, doc = self.docs[i]
            match.start, match.end = doc.span(match.start - base, match.end - base)
            match.text = doc.original[match.start:match.end]
            out.append((name, match))
        return out


def _field_value(listing: Listing, field: str) -> str | None:
    for name, value in listing.text_fields():
        if name == field:
            return value
    return None


def _field_root(name: str) -> str:
    return name.split(".", 1)[0].split("[", 1)[0]


def _as_date(value: dt.date | str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def model_version(models_dir: str | Path | None) -> str:
    """Scanner.load(..., models_dir).model_version, without loading the models (their files are
    checked against the manifest)."""
    try:
        from scanner.ml.runtime import active_version
    except ImportError:
        return "none"
    return active_version(Path(models_dir) if models_dir else None) or "none"


def _load_classifiers(models_dir: str | Path | None):
    try:
        from scanner.ml import load_classifiers
    except ImportError:
        return None
    return load_classifiers(Path(models_dir) if models_dir else None)


def _load_medical(rulesets: Rulesets, store=None) -> Any:
    family = rulesets.families.get("medical_device")
    if family is None:
        return None
    from scanner.medical.assess import load_assessor
    return load_assessor(family, store, rulesets.markets)
