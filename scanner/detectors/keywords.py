"""Exact term matching: every term of every rule in one Aho-Corasick automaton.

Terms are normalised like listing text. The automata hold their leetspeak skeletons without
separators, and one pass over a text's search view (text.search_view: the skeleton, separators
as spaces that the automaton skips) finds plain spellings, leetspeak ("v1agra", "cr0ssb0w") and
terms split by spaces or punctuation ("s i l d e n a f i l", "sil-de-na-fil") alike; each
candidate is then checked against what the text really says, and a split one must read as a
split term (text.split_fragments). Offsets are the text's, so evidence maps back to the original.
Latin-script terms need word boundaries, Cyrillic/Turkish/German ones a boundary
before them (inflection and compounds follow), CJK, Thai and Arabic ones none.
"""
from __future__ import annotations

import functools
import re
from bisect import bisect_right
from dataclasses import dataclass

import ahocorasick

from scanner.rulesets import Rulesets, Terms
from scanner.text import (
    MIN_SPLIT_LETTERS,
    TEXT_SEPARATOR,
    Doc,
    leet_reading,
    normalise_term,
    pipe_view,
    search_view,
    skeleton,
    split_fragments,
    strip_separators,
    word_char,
    word_count,
)

BOUNDARY_BY_LANGUAGE = {"zh": "none", "ja": "none", "ko": "none", "th": "none", "ar": "none",
                        "ru": "prefix", "tr": "prefix", "de": "prefix"}
PREFIX_MIN_LENGTH = 6  # a shorter stem would match too many unrelated words ("muşta" in "mustard")
_JOINERS = re.compile(r"[\s\-]+")


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: one object per term
class TermRef:
    rule: str
    group: str          # term group name; "" for exception and unless phrases
    kind: str           # term | exception | unless | extra (another detector's term, see KeywordIndex)
    term: str           # as written in the ruleset
    boundary: str       # word | prefix | none | edges (a boundary where the term's own end is a letter)
    weight: float


@dataclass(slots=True)
class Match:
    ref: TermRef
    start: int          # original offsets
    end: int
    text: str
    obfuscated: bool    # found only after undoing leetspeak or split letters or syllables


def term_variants(term: str) -> set[str]:
    """The normalised spellings a term is searched under: as written, spaced, hyphenated, joined."""
    base = normalise_term(term)
    out = {base}
    if _JOINERS.search(base):
        out |= {_JOINERS.sub(" ", base), _JOINERS.sub("-", base)}
        joined = _JOINERS.sub("", base)
        if len(joined) >= 5:
            out.add(joined)
    return {v for v in out if v}


def _boundary(lang: str, term: str, default: str | None = None) -> str:
    """A term's boundary kind by its language (BOUNDARY_BY_LANGUAGE); otherwise `default`, or for
    another detector's terms "word" when the term starts and ends with an ASCII letter or digit
    (English plurals then match too) and "edges" when it does not (CJK needs no boundary)."""
    boundary = BOUNDARY_BY_LANGUAGE.get(lang)
    if boundary == "prefix" and len(term) < PREFIX_MIN_LENGTH:
        boundary = "word"
    if boundary is None:
        ascii_ends = (term[:1] + term[-1:]).isascii() and term[:1].isalnum() and term[-1:].isalnum()
        boundary = default or ("word" if ascii_ends else "edges")
    return boundary


class KeywordIndex:
    def __init__(self, rulesets: Rulesets | None, extra: list[tuple[str, str, tuple]] | None = None):
        """`extra`: another detector's (term, language, payload) triples (the medical identifier's
        device names and claims), found in the same pass as refs of kind "extra" with group = the
        payload, so the listing's text is searched once; spellings and boundaries as for rule
        terms. `rulesets=None`: those terms alone."""
        entries: dict[str, list[TermRef]] = {}
        seen: set[tuple] = set()
        for term, lang, payload in extra or ():
            boundary = _boundary(lang, normalise_term(term))
            ref = TermRef("", payload, "extra", term, boundary, 0.0)
            for key in term_variants(term):
                if (key, payload, boundary) not in seen:   # one ref per spelling and payload
                    seen.add((key, payload, boundary))
                    entries.setdefault(key, []).append(ref)

        def add(terms: Terms, rule: str, group: str, kind: str, weight: float, substring: bool = False) -> None:
            for lang, term in terms.by_language():
                boundary = "none" if substring else _boundary(lang, term, default="word")
                ref = TermRef(rule, group, kind, term, boundary, weight)
                for key in term_variants(term):
                    entries.setdefault(key, []).append(ref)

        for rule in rulesets.rules.values() if rulesets is not None else ():
            for group in rule.terms:
                add(group, rule.id, group.name, "term", group.weight, group.match == "substring")
                add(group.unless, rule.id, group.name, "unless", 0.0)
            add(rule.exceptions, rule.id, "", "exception", 0.0)
        # ASCII spellings in one automaton, the rest in another that only non-ASCII text needs:
        # a small alphabet keeps the common case about twice as fast.
        self.ascii = self._automaton({k: v for k, v in entries.items() if k.isascii()})
        self.other = self._automaton({k: v for k, v in entries.items() if not k.isascii()}, utf8=_BYTES_SEARCHABLE)
        self.size = len(entries)

    @staticmethod
    def _automaton(entries: dict[str, list[TermRef]], utf8: bool = False):
        """One automaton over the skeletons of `entries` (`utf8`: over their UTF-8 bytes, see _Utf8)."""
        if not entries:
            return None  # an empty automaton cannot be searched
        by_skeleton: dict[str, list[tuple[str, tuple[TermRef, ...]]]] = {}
        for key, refs in entries.items():
            letters = strip_separators(key)  # the search view's separators are spaces, which it skips
            if letters:
                by_skeleton.setdefault(skeleton(letters), []).append((key, tuple(refs)))
        automaton = ahocorasick.Automaton()
        for skel, spellings in by_skeleton.items():
            # most candidates are short terms inside longer words ("cat" in "category"): when every
            # reading needs a word start, one look at the preceding character rules them out
            word_start = all(ref.boundary in ("word", "prefix") or ref.boundary == "edges" and word_char(key[0])
                             for key, refs in spellings for ref in refs)
            word_end = all(ref.boundary == "word" or ref.boundary == "edges" and word_char(key[-1])
                           for key, refs in spellings for ref in refs)
            # a find with separators inside reads only as a spelling written with them ("d/a",
            # "e-liquid") or as a term split up, which takes MIN_SPLIT_LETTERS letters or more
            splits = len(skel) >= MIN_SPLIT_LETTERS or any(strip_separators(key) != key for key, _ in spellings)
            automaton.add_word(_Utf8.encode(skel) if utf8 else skel,
                               (len(skel), tuple(spellings), word_start, word_end, splits))
        automaton.make_automaton()
        return _Utf8(automaton) if utf8 else automaton

    def _scan(self, text: str, other: bool = True, view: str | None = None) -> list[tuple]:
        """(start, end, ref, obfuscated) of every term in `text`, spelt plainly, in leetspeak or
        split up (`other=False`: only the terms spelt in ASCII), searched in `view`
        (by default the search view)."""
        if view is None:
            view = search_view(text)
        hits: list[tuple] = []
        if self.ascii is not None:
            self._scan_with(self.ascii, view, text, hits)
        if other and self.other is not None and not text.isascii():
            self._scan_with(self.other, view, text, hits)
        return hits

    def _scan_pipes(self, text: str) -> list[tuple]:
        """The terms split by pipes ("s|i|l|d|e|n|a|f|i|l"), if `text` has letters split so."""
        view = pipe_view(text)
        return [] if view is None else self._scan(text, True, view)

    @staticmethod
    def _scan_with(automaton, view: str, text: str, hits: list[tuple]) -> list[tuple]:
        """The automaton's finds in `view` that `text` really says, appended to `hits` (a list,
        not a generator: this runs a dozen times a listing and resuming generators costs)."""
        for end, (length, spellings, word_start, word_end, splits) in automaton.iter(view, ignore_white_space=True):
            start = end - length + 1
            end += 1
            if start < 0 or view.find(" ", start, end) != -1:  # the letters have separators between them
                if splits:
                    hits += _split_hits(view, text, end, length, spellings, word_start, word_end)
                continue
            if word_start and start and text[start - 1].isalnum():
                continue
            if word_end and word_char(after := text[end:end + 1]) and (after != "s" or word_char(text[end + 1:end + 2])):
                continue  # ends inside a word ("car" in "card", "bra" in "brand"); a plural "s" may follow
            written = text[start:end]
            for key, refs in spellings:
                if written == key:
                    _bounded(text, start, end, key, refs, False, hits)
                elif not written.isalpha() and leet_reading(text, start, key):
                    # (no digit or symbol: not leetspeak; most candidates that differ end there)
                    _bounded(text, start, end, key, refs, True, hits)
        return hits

    def find(self, doc: Doc) -> list[Match]:
        matches: list[Match] = []
        seen: set[tuple] = set()
        self._collect(doc, self._scan(doc.text), matches, seen)
        self._collect(doc, self._scan_pipes(doc.text), matches, seen)
        return matches

    def find_many(self, docs: list[Doc]) -> list[list[Match]]:
        """`find` for a batch of texts whose map is the identity (a listing's joined fields):
        one search view and one automaton pass for all of them."""
        if any(doc.segments is not None for doc in docs):
            return [self.find(doc) for doc in docs]
        text = TEXT_SEPARATOR.join(doc.text for doc in docs)
        bases, pos = [], 0
        for doc in docs:
            bases.append(pos)
            pos += len(doc.text) + len(TEXT_SEPARATOR)
        found: list[list[tuple]] = [[] for _ in docs]
        for start, end, ref, leet in self._scan(text, other=False):
            i = bisect_right(bases, start) - 1
            found[i].append((start - bases[i], end - bases[i], ref, leet))
        if self.other is not None:  # the larger alphabet's automaton only where it can match
            for i, doc in enumerate(docs):
                if not doc.text.isascii():
                    self._scan_with(self.other, search_view(doc.text), doc.text, found[i])
        if "|" in text:
            for i, doc in enumerate(docs):
                found[i] += self._scan_pipes(doc.text)
        out = []
        for doc, hits in zip(docs, found):
            # the identity map: offsets are the original's
            original, seen, matches = doc.original, set(), []
            for start, end, ref, obfuscated in hits:
                if (ref, start, end) not in seen:
                    seen.add((ref, start, end))
                    matches.append(Match(ref, start, end, original[start:end], obfuscated))
            out.append(matches)
        return out

    @staticmethod
    def _collect(doc: Doc, hits, matches: list[Match], seen: set[tuple]) -> None:
        """Matches of `hits` in `doc`, once per rule term and original span."""
        for start, end, ref, obfuscated in hits:
            ostart, oend = doc.span(start, end)
            key = (ref, ostart, oend)
            if key in seen:
                continue
            seen.add(key)
            matches.append(Match(ref, ostart, oend, doc.original[ostart:oend], obfuscated))


class _Utf8:
    """An automaton over the UTF-8 bytes of its keys (each byte a Latin-1 character), searched
    like pyahocorasick's own with offsets in characters. pyahocorasick looks a character up
    among a node's children one at a time; the non-ASCII terms start with hundreds of different
    characters, but no node of their bytes has more than 256 children (3-5× faster on Chinese
    or Russian text, ~6× on the ASCII text around it)."""

    __slots__ = ("automaton",)

    def __init__(self, automaton):
        self.automaton = automaton

    @staticmethod
    def encode(text: str) -> str:
        return text.encode("utf-8", "surrogatepass").decode("latin-1")

    def iter(self, view: str, ignore_white_space: bool = False):
        data = self.encode(view)
        byte_at = char_at = 0
        for end, value in self.automaton.iter(data, ignore_white_space=ignore_white_space):
            # hits come in order of their end, which is always a character's last byte
            char_at += len(data[byte_at:end + 1].encode("latin-1").decode("utf-8", "surrogatepass"))
            byte_at = end + 1
            yield char_at - 1, value


def _bytes_searchable() -> bool:
    """Whether the C library's iswspace (which ignore_white_space uses) leaves the bytes of UTF-8
    continuation characters alone: Unicode counts U+0085 as white space, and a C library may too
    (glibc does not); where it does, the non-ASCII terms are searched as characters."""
    probe = ahocorasick.Automaton()
    key = "a\x85\xa0b"
    probe.add_word(key, 1)
    probe.make_automaton()
    return [v for _, v in probe.iter(key, ignore_white_space=True)] == [1]


_BYTES_SEARCHABLE = _bytes_searchable()


def _bounded(text: str, start: int, end: int, key: str, refs: tuple[TermRef, ...], obfuscated: bool,
             hits: list[tuple]) -> None:
    """(start, end, ref, obfuscated) appended to `hits` for each of `refs` whose boundaries
    text[start:end] keeps."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    for ref in refs:
        if ref.boundary == "none":
            hits.append((start, end, ref, obfuscated))
        elif ref.boundary == "edges":
            if not (word_char(key[0]) and word_char(before) or word_char(key[-1]) and word_char(after)):
                hits.append((start, end, ref, obfuscated))
        elif before.isalnum():
            continue
        elif ref.boundary == "prefix" or not after.isalnum():
            hits.append((start, end, ref, obfuscated))
        elif after == "s" and (end + 1 == len(text) or not text[end + 1].isalnum()):
            hits.append((start, end + 1, ref, obfuscated))  # English plural of a word term


def _split_hits(view: str, text: str, end: int, length: int, spellings, word_start: bool,
                word_end: bool) -> list[tuple]:
    """The readings of a find whose `length` letters end at `end` with separators between them:
    a spelling written with those separators ("e-liquid", "vape juice"), or a term split up
    ("sil-de-na-fil"), which must start and end with whole fragments and read as a split term."""
    after = text[end:end + 1]
    if word_end and word_char(after) and (after != "s" or word_char(text[end + 1:end + 2])):
        return []  # ends inside a word (most finds across words, like "cigar" in "magic garden")
    start = end - length
    while True:  # back over the skipped spaces to the first letter
        first = end - length - view.count(" ", max(start, 0), end)
        if first == start:
            break
        start = first
    if word_start and start and text[start - 1].isalnum():
        return []
    hits: list[tuple] = []
    written = text[start:end]
    plain = any(written == key for key, _ in spellings)   # then it is no term split up ("stun-gun")
    for key, refs in spellings:
        if written == key or len(written) == len(key) and leet_reading(text, start, key):
            _bounded(text, start, end, key, refs, written != key, hits)
            continue
        fragments = 0 if plain else split_fragments(text, start, end)
        if not fragments:
            continue
        letters, term = strip_separators(written), strip_separators(key)
        if letters == term or leet_reading(letters, 0, term):
            for ref in refs:
                if fragments > _words(ref.term):
                    hits.append((start, end, ref, True))
    return hits


@functools.cache
def _words(term: str) -> int:
    return word_count(normalise_term(term))
