"""Structured quantities with spaCy's Matcher on a blank tokenizer (no model download):
blade lengths and tip angles, nicotine strengths, VG/PG ratios, puff counts.

Term lists stay in the keyword automaton; spaCy only reads numbers and their units,
and only for listings in which a family that uses patterns already has a hit.
The vocabulary (units, context words, windows) comes from the rulesets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import spacy
from spacy.matcher import Matcher

from scanner.rulesets import PatternDefinition, Rulesets
from scanner.text import Doc, normalise_term

_NUMBER = r"\d+(?:[.,]\d+)?"


@dataclass(slots=True)
class PatternMatch:
    name: str
    start: int          # original offsets
    end: int
    text: str
    value: float | None


def _number(text: str) -> float | None:
    m = re.match(_NUMBER, text)
    return float(m.group().replace(",", ".")) if m else None


class PatternIndex:
    def __init__(self, rulesets: Rulesets):
        self.nlp = spacy.blank("en")
        # one Matcher per family: a listing pays only for the patterns its families read
        self.matchers: dict[str, Matcher] = {}
        self.definitions: dict[str, PatternDefinition] = {}
        self.family_of: dict[str, str] = {}
        for family in rulesets.families.values():
            for name, d in family.pattern_definitions.items():
                self.definitions[name] = d
                self.family_of[name] = family.family
                matcher = self.matchers.setdefault(family.family, Matcher(self.nlp.vocab))
                units = [normalise_term(u) for u in d.units]
                if d.kind in ("quantity", "count"):
                    fused = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
                    matcher.add(name, [
                        [{"LIKE_NUM": True}, {"LOWER": {"IN": units}}],
                        [{"LOWER": {"REGEX": rf"^{_NUMBER}(?:{fused})$"}}],
                    ])
                else:
                    matcher.add(name, [
                        [{"LOWER": {"REGEX": r"^\d{1,3}%?(?:[a-z]{2})?/\d{1,3}%?(?:[a-z]{2})?$"}}],
                        [{"LIKE_NUM": True}, {"ORTH": "%"}],
                    ])
        self._units = {name: {normalise_term(u): f for u, f in d.units.items()}
                       for name, d in self.definitions.items()}
        self._context = {name: {normalise_term(w) for w in d.context} for name, d in self.definitions.items()}
        self._exclude = {name: {normalise_term(w) for w in d.exclude_context}
                         for name, d in self.definitions.items()}

    def _keyed(self, name: str, field_key: str | None) -> bool:
        if not field_key:
            return False
        key = field_key.lower()
        return any(k in key for k in self.definitions[name].attribute_keys)

    def _value(self, name: str, span) -> float | None:
        d = self.definitions[name]
        if d.kind == "ratio":
            return _number(span[0].text)
        number = _number(span[0].text)
        if number is None:
            return None
        unit = span[-1].lower_ if len(span) > 1 else re.sub(rf"^{_NUMBER}", "", span[0].lower_)
        factor = self._units[name].get(unit)
        return None if factor is None else number * factor

    def _nearest(self, sdoc, s: int, e: int, window: int, name: str) -> str | None:
        """Whether the nearest telling word around tokens s..e is a context or an exclude word."""
        for distance in range(1, window + 1):
            for k in (s - distance, e - 1 + distance):
                if 0 <= k < len(sdoc):
                    word = sdoc[k].lower_
                    if word in self._exclude[name]:
                        return "exclude"
                    if word in self._context[name]:
                        return "context"
        return None

    def find(self, doc: Doc, families: set[str], field_key: str | None = None) -> list[PatternMatch]:
        """Quantities in `doc` for patterns of the given families; `field_key` is the attribute name."""
        matchers = [m for f, m in self.matchers.items() if f in families]
        if not doc.text or not matchers:
            return []
        sdoc = self.nlp.make_doc(doc.text)
        out: list[PatternMatch] = []
        found = sorted({match for matcher in matchers for match in matcher(sdoc)}, key=lambda m: (m[1], m[2], m[0]))
        for match_id, s, e in found:
            name = self.nlp.vocab.strings[match_id]
            d = self.definitions[name]
            context = self._nearest(sdoc, s, e, d.window, name)
            if context == "exclude":
                continue
            keyed = self._keyed(name, field_key)
            fused_ratio = d.kind == "ratio" and any(c in sdoc[s].lower_ for c in self._context[name])
            if self._context[name] and not (keyed or fused_ratio or context == "context"):
                continue
            span = sdoc[s:e]
            value = self._value(name, span)
            if d.kind != "ratio" and value is None:
                continue
            start, end = doc.span(span.start_char, span.end_char)
            out.append(PatternMatch(name, start, end, doc.original[start:end], value))
        return out
