"""Structured quantities with spaCy's Matcher on a blank tokenizer (no model download):
blade lengths and tip angles, nicotine strengths, VG/PG ratios, puff counts.

Term lists stay in the keyword automaton; spaCy only reads numbers and their units,
and only for listings in which a family that uses patterns already has a hit. Even then
spaCy sees only windows of whole words around the places where a number stands before
a unit (or a ratio): tokenising and matching a whole description cost ~400 µs, and a
window cut at spaces tokenises exactly as the whole text does there.
The vocabulary (units, context words, windows) comes from the rulesets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import spacy
from spacy.lang.en.lex_attrs import _num_words, _ordinal_words
from spacy.matcher import Matcher

from scanner.rulesets import PatternDefinition, Rulesets
from scanner.text import Doc, normalise_term

_NUMBER = r"\d+(?:[.,]\d+)?"
# what ends a LIKE_NUM token: a digit, or one of the English number words spaCy knows. Kept as two
# regexes: in one alternation the words cost the digits their fast scan (measured 90 µs vs 25).
_NUMBER_WORDS = sorted({*_num_words, *_ordinal_words}, key=len, reverse=True)
_NUMBER_ENDS = (r"\d", r"(?<![^\W_])(?=[" + "".join(sorted({w[0] for w in _NUMBER_WORDS})) + "])(?:"
                + "|".join(_NUMBER_WORDS) + r")\b")


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
        after_number: dict[str, set[str]] = {}  # per family: what may follow a number in a match (regexes)
        self.definitions: dict[str, PatternDefinition] = {}
        self.family_of: dict[str, str] = {}
        for family in rulesets.families.values():
            for name, d in family.pattern_definitions.items():
                self.definitions[name] = d
                self.family_of[name] = family.family
                matcher = self.matchers.setdefault(family.family, Matcher(self.nlp.vocab))
                units = [normalise_term(u) for u in d.units]
                if d.kind in ("quantity", "count"):
                    after_number.setdefault(family.family, set()).update(r"\s*" + re.escape(u) for u in units)
                    fused = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
                    matcher.add(name, [
                        [{"LIKE_NUM": True}, {"LOWER": {"IN": units}}],
                        [{"LOWER": {"REGEX": rf"^{_NUMBER}(?:{fused})$"}}],
                    ])
                else:
                    after_number.setdefault(family.family, set()).update([r"\s*%", r"/\d", r"%?[a-z]{0,2}/"])
                    matcher.add(name, [
                        [{"LOWER": {"REGEX": r"^\d{1,3}%?(?:[a-z]{2})?/\d{1,3}%?(?:[a-z]{2})?$"}}],
                        [{"LIKE_NUM": True}, {"ORTH": "%"}],
                    ])
        # where a match may stand: a number, then a unit or a ratio's slash (longest alternatives first)
        self._spots = {f: [re.compile(number + "(?:" + "|".join(sorted(after, key=len, reverse=True)) + ")")
                           for number in _NUMBER_ENDS] for f, after in after_number.items()}
        self._reach = max((d.window for d in self.definitions.values()), default=0) + 2  # words each side
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

    def _windows(self, text: str, families: set[str]) -> list[tuple[int, int]]:
        """Merged [start, end) windows, cut at spaces, of `_reach` words around every spot."""
        spans = sorted(m.span() for f, regexes in self._spots.items() if f in families
                       for rx in regexes for m in rx.finditer(text))
        windows: list[tuple[int, int]] = []
        for start, end in spans:
            a, b = start, end
            for _ in range(self._reach + 1):
                a = text.rfind(" ", 0, a)
                if a <= 0:
                    break
            a = a + 1 if a > 0 else 0
            for _ in range(self._reach + 1):
                b = text.find(" ", b + 1)
                if b == -1:
                    b = len(text)
                    break
            if windows and a <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(b, windows[-1][1]))
            else:
                windows.append((a, b))
        return windows

    def find(self, doc: Doc, families: set[str], field_key: str | None = None,
             windowed: bool = True) -> list[PatternMatch]:
        """Quantities in `doc` for patterns of the given families; `field_key` is the attribute name.
        `windowed=False` gives spaCy the whole text (the reference the windows must agree with)."""
        matchers = [m for f, m in self.matchers.items() if f in families]
        if not doc.text or not matchers:
            return []
        out: list[PatternMatch] = []
        windows = self._windows(doc.text, families) if windowed else [(0, len(doc.text))]
        for a, b in windows:
            out += self._find_in(doc, a, self.nlp.make_doc(doc.text[a:b]), matchers, field_key)
        return out

    def _find_in(self, doc: Doc, offset: int, sdoc, matchers, field_key: str | None) -> list[PatternMatch]:
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
            start, end = doc.span(offset + span.start_char, offset + span.end_char)
            out.append(PatternMatch(name, start, end, doc.original[start:end], value))
        return out
