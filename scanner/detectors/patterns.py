"""Structured quantities with spaCy's Matcher on a blank tokenizer (no model download):
blade lengths and tip angles, nicotine strengths, VG/PG ratios, puff counts.

Term lists stay in the keyword automaton; spaCy only reads numbers and their units,
and only for listings in which a family that uses patterns already has a hit. Even then
spaCy sees only windows of whole words around the places where a number stands before
a unit (or a ratio): tokenising and matching a whole description cost ~400 µs, and a
window cut at spaces tokenises exactly as the whole text does there.
The vocabulary (units, context words, windows) comes from the rulesets.

A number reads the label (a context or exclude word) of its own segment of text: segments end at
a sentence end, ";", "|", a line or tab break and an HTML block tag (<br>, a table cell...). The
nearest label before the number binds more tightly than one after it ("overall 360 mm, blade
240 mm"); a number alone in its segment takes the label of a segment that holds only a label
("<td>Blade length</td><td>24 cm</td>").
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise

import spacy
from spacy.lang.en.lex_attrs import _num_words, _ordinal_words
from spacy.matcher import Matcher

from scanner.rulesets import PatternDefinition, Rulesets
from scanner.text import Doc, normalise_term

_NUMBER = r"\d+(?:[.,]\d+)?"
# an attribute whose value is a bare number and whose name gives the unit: "Blade Length (mm)": "225"
_BARE_NUMBER = re.compile(_NUMBER)
_UNIT_IN_NAME = re.compile(r"[(\[（]\s*([^()\[\]（）]{1,12}?)\s*[)\]）]")
# what ends a LIKE_NUM token: a digit, or one of the English number words spaCy knows. Kept as two
# regexes: in one alternation the words cost the digits their fast scan (measured 90 µs vs 25).
_NUMBER_WORDS = sorted({*_num_words, *_ordinal_words}, key=len, reverse=True)
_NUMBER_WORD_SET = frozenset(_NUMBER_WORDS)
_LETTER_RUN = re.compile(r"[a-z]+")   # a number word the regex finds is one such run, whole
_NUMBER_ENDS = (r"\d", r"(?<![^\W_])(?=[" + "".join(sorted({w[0] for w in _NUMBER_WORDS})) + "])(?:"
                + "|".join(_NUMBER_WORDS) + r")\b")

# Scripts written without spaces between words, numbers and units ("刃长24cm", "刃长：24cm",
# "刀刃长度24cm总长36cm", "칼날24cm"), which spaCy's tokenizer keeps as one token: the text spaCy
# reads gets a space wherever such a character meets a character of another kind (a digit, a
# Latin letter, punctuation).
_UNSPACED = "\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_UNSPACED_EDGE = re.compile(rf"(?<=[{_UNSPACED}])(?=[^{_UNSPACED}\s])|(?<=[^{_UNSPACED}\s])(?=[{_UNSPACED}])")
# Where a label's reach ends: a sentence end (not "approx. 24"), a field or list separator, a line
# or tab break (one character class first: the regex scans for it fast). HTML block tags are
# breaks too: the space each leaves maps to the tag (_tag_breaks).
_BREAK = re.compile(r"[.!?;|\n\r\t\u3002](?:(?<=[.!?])(?=\s)(?!\s+\d)|(?<![.!?]))")
_COMMAS = frozenset([",", "\u3001"])


def _spaced(text: str) -> tuple[str, list[int]]:
    """`text` with a space at every _UNSPACED_EDGE, and where the spaces stand in the result."""
    cuts = [] if text.isascii() else [m.start() for m in _UNSPACED_EDGE.finditer(text)]
    if not cuts:
        return text, cuts
    bounds = [0, *cuts, len(text)]
    return " ".join(text[i:j] for i, j in pairwise(bounds)), [c + k for k, c in enumerate(cuts)]


def _tag_breaks(doc: Doc) -> list[int]:
    """Positions in doc.text of the spaces HTML block tags left."""
    if doc.segments is None or "<" not in doc.original:
        return []
    return [n for n, start, end, one_to_one in doc.segments
            if not one_to_one and end - start > 1 and doc.original.startswith("<", start)]


def _breaks(text: str, a: int, b: int, tags: list[int]) -> list[int]:
    """Sorted positions in text[a:b] where a label's reach ends."""
    found = [m.start() for m in _BREAK.finditer(text, a, b)]
    if tags:
        found = sorted(found + tags[bisect_left(tags, a):bisect_left(tags, b)])
    return found


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


_FRACTION = re.compile(r"(\d{1,3})[/\u2044](\d{1,3})")   # "1/4", and "1⁄2" (NFKC's "½")
_WHOLE = re.compile(r"\d{1,3}")


def _fraction(text: str) -> float | None:
    m = _FRACTION.fullmatch(text)
    return int(m[1]) / int(m[2]) if m and int(m[2]) else None


def _whole_before(sdoc, s: int) -> int:
    """The token a quantity starts at when the number at token s is a fraction after a whole
    number ("6 1/8 in", "6-1/4\""), else s."""
    if _fraction(sdoc[s].text) is None:
        return s
    if s >= 1 and _WHOLE.fullmatch(sdoc[s - 1].text):
        return s - 1
    if s >= 2 and sdoc[s - 1].text == "-" and _WHOLE.fullmatch(sdoc[s - 2].text):
        return s - 2
    return s


def _leading_number(span) -> tuple[float | None, int]:
    """The number a quantity's tokens start with ("5", "5.5", "3/4", "6 1/8", "6-1/4") and how
    many tokens it takes; "k" after a number or fused to it multiplies it by 1,000 ("10k puffs")."""
    first = span[0].text
    frac = _fraction(first)
    if frac is not None:
        return frac, 1
    k = 2 if len(span) > 2 and span[1].text == "-" else 1
    if len(span) > k and _WHOLE.fullmatch(first) and (frac := _fraction(span[k].text)) is not None:
        return int(first) + frac, k + 1
    number = _number(first)
    if number is not None and first[-1:].lower() == "k":
        return number * 1000, 1
    if number is not None and len(span) > 2 and span[1].lower_ == "k":
        return number * 1000, 2
    return number, 1


class PatternIndex:
    def __init__(self, rulesets: Rulesets):
        self.nlp = spacy.blank("en")
        # one Matcher per family: a listing pays only for the patterns its families read
        self.matchers: dict[str, Matcher] = {}
        after_number: dict[str, dict[str, set[str]]] = {}  # per family: gap regex -> what may end a match
        self.definitions: dict[str, PatternDefinition] = {}
        self.family_of: dict[str, str] = {}
        for family in rulesets.families.values():
            for name, d in family.pattern_definitions.items():
                self.definitions[name] = d
                self.family_of[name] = family.family
                matcher = self.matchers.setdefault(family.family, Matcher(self.nlp.vocab))
                units = [normalise_term(u) for u in d.units]
                if d.kind in ("quantity", "count"):
                    # "9 inch", "9inch", "9-inch"; counts in thousands: "10k puffs", "10 k puffs"
                    thousands = r"\s*k?" if d.kind == "count" else ""
                    after_number.setdefault(family.family, {}).setdefault(thousands + r"\s*-?\s*", set()).update(
                        re.escape(u) for u in units)
                    fused = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
                    patterns = [
                        [{"LIKE_NUM": True}, {"LOWER": {"IN": units}}],
                        [{"LIKE_NUM": True}, {"ORTH": "-"}, {"LOWER": {"IN": units}}],
                        [{"LOWER": {"REGEX": rf"^{_NUMBER}(?:{fused})$"}}],
                    ]
                    if d.kind == "count":
                        patterns += [[{"LOWER": {"REGEX": rf"^{_NUMBER}k$"}}, {"LOWER": {"IN": units}}],
                                     [{"LIKE_NUM": True}, {"LOWER": "k"}, {"LOWER": {"IN": units}}]]
                    else:   # a fraction spaCy does not take for a number ("1⁄2", from "½")
                        patterns += [[{"TEXT": {"REGEX": _FRACTION.pattern}}, {"LOWER": {"IN": units}}]]
                    matcher.add(name, patterns)
                else:
                    after_number.setdefault(family.family, {}).setdefault("", set()).update(
                        [r"\s*%", r"/\d", r"%?[a-z]{0,2}/"])
                    matcher.add(name, [
                        [{"LOWER": {"REGEX": r"^\d{1,3}%?(?:[a-z]{2})?/\d{1,3}%?(?:[a-z]{2})?$"}}],
                        [{"LIKE_NUM": True}, {"ORTH": "%"}],
                    ])
        # where a match may stand: a number, then a unit or a ratio's slash (longest alternatives
        # first); the units that share what may stand between number and unit are one group, so
        # the regex tries that gap once rather than once per unit
        self._spots = {f: [re.compile(number + "(?:" + "|".join(
            gap + "(?:" + "|".join(sorted(ends, key=len, reverse=True)) + ")"
            for gap, ends in sorted(after.items(), key=lambda kv: len(kv[0]), reverse=True)) + ")")
            for number in _NUMBER_ENDS] for f, after in after_number.items()}
        self._reach = max((d.window for d in self.definitions.values()), default=0) + 2  # words each side
        self._units = {name: {normalise_term(u): f for u, f in d.units.items()}
                       for name, d in self.definitions.items()}
        self._context = {name: {normalise_term(w) for w in d.context} for name, d in self.definitions.items()}
        self._exclude = {name: {normalise_term(w) for w in d.exclude_context}
                         for name, d in self.definitions.items()}
        self._context_unspaced = {name: [w for w in words if _UNSPACED_CHAR.search(w)]
                                  for name, words in self._context.items()}
        self._exclude_unspaced = {name: [w for w in words if _UNSPACED_CHAR.search(w)]
                                  for name, words in self._exclude.items()}

    def _with_unit_of_name(self, doc: Doc, field_key: str | None) -> Doc:
        """A bare number whose attribute name gives its unit in brackets, read with that unit
        ("Blade Length (mm)": "225" is 225 mm); the added unit maps to the number's end, so
        evidence quotes the number."""
        if not field_key or doc.segments is not None or not _BARE_NUMBER.fullmatch(doc.text):
            return doc
        m = _UNIT_IN_NAME.search(field_key)
        unit = normalise_term(m.group(1)) if m else ""
        if not any(unit in units for units in self._units.values()):
            return doc
        n = len(doc.text)
        return Doc(doc.original, f"{doc.text} {unit}", segments=[(0, 0, n, True), (n, n, n, False)])

    def _keyed(self, name: str, field_key: str | None) -> bool:
        if not field_key:
            return False
        key = field_key.lower()
        return any(k in key for k in self.definitions[name].attribute_keys)

    def _value(self, name: str, span) -> float | None:
        d = self.definitions[name]
        if d.kind == "ratio":
            return _number(span[0].text)
        number, taken = _leading_number(span)
        if number is None:
            return None
        unit = span[-1].lower_ if len(span) > taken else re.sub(rf"^{_NUMBER}", "", span[0].lower_)
        factor = self._units[name].get(unit)
        return None if factor is None else number * factor

    def _label(self, sdoc, s: int, e: int, name: str, segment: list[int], ends: set[int],
               keyed: bool) -> str | None:
        """"context" or "exclude": the label the quantity at tokens s..e reads, if any. First the
        nearest label before it in its segment (or, for the first segment of a keyed attribute, the
        attribute's name), then the nearest after it, then a label-only segment right before it."""
        window, seg = self.definitions[name].window, segment[s]
        for k in range(s - 1, max(s - window, 0) - 1, -1):
            if segment[k] != seg:
                break
            label = self._kind(sdoc[k], name)
            if label:
                if k in ends and k + 1 < s and sdoc[k + 1].text in _COMMAS:
                    break   # "12 cm blade, 25 cm": the label closes the quantity before it
                return label
        else:
            if keyed and seg == 0:
                return "context"
        for k in range(e, min(e - 1 + window, len(sdoc) - 1) + 1):
            if segment[k] != segment[e - 1]:
                break
            label = self._kind(sdoc[k], name)
            if label:
                return label
        return self._carried(sdoc, s, name, segment, window)

    def _carried(self, sdoc, s: int, name: str, segment: list[int], window: int) -> str | None:
        """The label of the segment right before the one the number at token s opens, when that
        segment holds a label and no number and lies wholly within `window` tokens."""
        k = s - 1
        while k >= 0 and segment[k] == segment[s]:
            if any(c.isalnum() for c in sdoc[k].text):
                return None   # the number does not open its segment
            k -= 1
        if k < 0:
            return None
        label, prev = None, segment[k]
        while k >= 0 and segment[k] == prev:
            if s - k > window or any(c.isdigit() for c in sdoc[k].text):
                return None
            label = label or self._kind(sdoc[k], name)
            k -= 1
        return label

    def _kind(self, token, name: str) -> str | None:
        word = token.lower_
        if word in self._exclude[name]:
            return "exclude"
        if word in self._context[name]:
            return "context"
        if _UNSPACED_CHAR.search(word):
            # a script without spaces keeps a label and its neighbours as one token ("刃渡り約",
            # "ใบมีดยาว"): the label is read inside it
            if any(w in word for w in self._exclude_unspaced[name]):
                return "exclude"
            if any(w in word for w in self._context_unspaced[name]):
                return "context"
        return None

    def _windows(self, text: str, families: set[str]) -> list[tuple[int, int]]:
        """Merged [start, end) windows, cut at spaces, of `_reach` words around every spot."""
        # the number-word regex costs more than the digit one: only where a number word stands
        kinds = 2 if not _NUMBER_WORD_SET.isdisjoint(_LETTER_RUN.findall(text)) else 1
        spans = sorted(m.span() for f, regexes in self._spots.items() if f in families
                       for rx in regexes[:kinds] for m in rx.finditer(text))
        windows: list[tuple[int, int]] = []
        n = len(text)
        for start, end in spans:
            # a run of spaces (HTML block tags leave one each) counts as one gap between words
            a = pos = start
            for _ in range(self._reach + 1):
                space = text.rfind(" ", 0, pos)
                if space == -1:
                    a = 0
                    break
                a = pos = space + 1
                while pos > 0 and text[pos - 1] == " ":
                    pos -= 1
            b = end
            for _ in range(self._reach + 1):
                while b < n and text[b] == " ":
                    b += 1
                b = text.find(" ", b)
                if b == -1:
                    b = n
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
        doc = self._with_unit_of_name(doc, field_key)
        out: list[PatternMatch] = []
        windows = self._windows(doc.text, families) if windowed else [(0, len(doc.text))]
        tags = _tag_breaks(doc)
        for a, b in windows:
            breaks = _breaks(doc.text, a, b, tags)
            # segment 0 is the text's first: an attribute's name labels it (see _label)
            first = 0 if a == 0 or field_key is None or not (
                _BREAK.search(doc.text, 0, a) or tags and tags[0] < a) else 1
            text, spaces = _spaced(doc.text[a:b])
            out += self._find_in(doc, a, self.nlp.make_doc(text), spaces, breaks, first, matchers, field_key)
        return out

    def _find_in(self, doc: Doc, offset: int, sdoc, spaces: list[int], breaks: list[int], first: int,
                 matchers, field_key: str | None) -> list[PatternMatch]:
        """Matches in sdoc, the text doc.text[offset:] with spaces added at `spaces` (_spaced);
        `breaks` end segments, numbered from `first`."""
        def at(i: int) -> int:   # position in doc.text of position i in sdoc's text
            return offset + i - (bisect_left(spaces, i) if spaces else 0)

        out: list[PatternMatch] = []
        found = sorted({match for matcher in matchers for match in matcher(sdoc)}, key=lambda m: (m[1], m[2], m[0]))
        if not found:
            return out
        segment = [first + bisect_right(breaks, at(t.idx)) for t in sdoc] if breaks else [first] * len(sdoc)
        ends: dict[int, set[int]] = {}
        for match_id, _, e in found:
            ends.setdefault(match_id, set()).add(e)
        for match_id, s, e in found:
            name = self.nlp.vocab.strings[match_id]
            d = self.definitions[name]
            if d.kind == "quantity":
                s = _whole_before(sdoc, s)
            keyed = self._keyed(name, field_key)
            label = self._label(sdoc, s, e, name, segment, ends[match_id], keyed)
            if label == "exclude":
                continue
            fused_ratio = d.kind == "ratio" and any(c in sdoc[s].lower_ for c in self._context[name])
            if self._context[name] and not (keyed or fused_ratio or label == "context"):
                continue
            span = sdoc[s:e]
            value = self._value(name, span)
            if d.kind != "ratio" and value is None:
                continue
            start, end = doc.span(at(span.start_char), at(span.end_char))
            out.append(PatternMatch(name, start, end, doc.original[start:end], value))
        return out
