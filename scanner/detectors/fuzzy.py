"""Misspellings: rapidfuzz on the words that exact matching did not explain.

Only single-word terms of groups marked `fuzzy` are candidates; each family sets
its cut-off, minimum length and an allow-list of ordinary words ("crossbody") that
must never become a term. Results are cached per word: real catalogs repeat words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from scanner.rulesets import Rulesets
from scanner.text import Doc, normalise_term

_WORD = re.compile(r"[a-z]+")
_CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class FuzzyRef:
    rule: str
    group: str
    term: str
    weight: float
    cutoff: float


@dataclass(slots=True)
class FuzzyMatch:
    ref: FuzzyRef
    start: int
    end: int
    text: str
    score: float


class FuzzyIndex:
    def __init__(self, rulesets: Rulesets, exact_vocabulary: set[str]):
        refs: dict[str, list[FuzzyRef]] = {}
        allow: set[str] = set(exact_vocabulary)
        self.min_length = 99
        for family in rulesets.families.values():
            d = family.defaults
            allow |= {normalise_term(w) for w in d.allow_words}
            self.min_length = min(self.min_length, d.fuzzy_min_length)
            for rule in family.rules:
                for group in rule.terms:
                    if not group.fuzzy:
                        continue
                    for _, term in group.items():
                        word = normalise_term(term)
                        if _WORD.fullmatch(word) and len(word) >= d.fuzzy_min_length:
                            ref = FuzzyRef(rule.id, group.name, word, group.weight, d.fuzzy_cutoff)
                            if ref not in refs.setdefault(word, []):
                                refs[word].append(ref)
        self.refs = refs
        self.choices = list(refs)
        self.allow = allow
        self.min_cutoff = min((r.cutoff for rs in refs.values() for r in rs), default=100.0)
        self._cache: dict[str, tuple[str, float] | None] = {}
        self._clean: set[str] = set()   # words known to be far from every term

    def _best(self, word: str) -> tuple[str, float] | None:
        try:
            return self._cache[word]
        except KeyError:
            pass
        found = None
        if self.choices:
            hit = process.extractOne(word, self.choices, scorer=fuzz.ratio, score_cutoff=self.min_cutoff)
            # misspellings keep the first letter; this also keeps "enforce" from becoming "cenforce"
            if hit is not None and hit[0][0] == word[0]:
                found = (hit[0], hit[1])
        if found is None:
            if len(self._clean) < _CACHE_LIMIT:
                self._clean.add(word)
        elif len(self._cache) < _CACHE_LIMIT:
            self._cache[word] = found
        return found

    def find(self, doc: Doc, explained: list[tuple[int, int]]) -> list[FuzzyMatch]:
        """Fuzzy matches among the words of `doc` not covered by `explained` original spans."""
        out: list[FuzzyMatch] = []
        # set arithmetic first: most words were seen before and are known clean
        words = set(_WORD.findall(doc.text)) - self._clean - self.allow
        hits = {w: b for w in words if len(w) >= self.min_length and (b := self._best(w)) is not None}
        if not hits:
            return out
        for m in _WORD.finditer(doc.text):
            best = hits.get(m.group())
            if best is None:
                continue
            start, end = doc.span(m.start(), m.end())
            if any(s <= start and end <= e for s, e in explained):
                continue
            term, score = best
            for ref in self.refs[term]:
                if score >= ref.cutoff:
                    out.append(FuzzyMatch(ref, start, end, doc.original[start:end], score))
        return out
