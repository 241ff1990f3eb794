"""Misspellings: rapidfuzz on the words that exact matching did not explain.

Candidates are the words of the terms in groups marked `fuzzy`. A single-word term
matches a misspelt word on its own ("sildenafli"); a word of a multi-word term matches
only when the term's other words stand beside it, spelt right ("male enhancment",
"brass knucles"), so its own length may be shorter. Each family sets the cut-off, the
minimum length and an allow-list of ordinary words ("crossbody") that must never become
a term. Letters that look alike (l, i, 1) are compared as one. Results are cached per word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from scanner.rulesets import Rulesets
from scanner.text import TEXT_SEPARATOR, Doc, normalise_term

_WORD = re.compile(r"[a-z]+")
# UTF-8 bytes with everything but a-z blanked: split() then yields exactly _WORD's words, faster
_ONLY_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))
_TERM_WORDS = re.compile(r"[a-z]+|[^a-z\s]+")
_CACHE_LIMIT = 200_000
_LOOKALIKE = str.maketrans({"l": "i"})
MULTIWORD_SHORTER_BY = 1  # a word beside its term's other words may be this much shorter


@dataclass(frozen=True, slots=True)
class FuzzyRef:
    rule: str
    group: str
    term: str                 # the normalised term
    words: tuple[str, ...]    # the term's words
    index: int                # which of them this entry stands for
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
            for rule in family.rules:
                for group in rule.terms:
                    if not group.fuzzy:
                        continue
                    for _, term in group.by_language():
                        norm = normalise_term(term)
                        words = tuple(_TERM_WORDS.findall(norm))
                        if not words or not all(_WORD.fullmatch(w) for w in words):
                            continue
                        shortest = d.fuzzy_min_length - (MULTIWORD_SHORTER_BY if len(words) > 1 else 0)
                        self.min_length = min(self.min_length, shortest)
                        for i, word in enumerate(words):
                            if len(word) < shortest:
                                continue
                            ref = FuzzyRef(rule.id, group.name, norm, words, i, group.weight, d.fuzzy_cutoff)
                            key = word.translate(_LOOKALIKE)
                            if ref not in refs.setdefault(key, []):
                                refs[key].append(ref)
        self.refs = refs
        self.term_words = {w for rs in refs.values() for r in rs for w in r.words}
        self.choices = list(refs)
        # misspellings keep their first letter: compare a word only with terms that share it
        self.choices_by_letter: dict[str, list[str]] = {}
        for choice in self.choices:
            self.choices_by_letter.setdefault(choice[0], []).append(choice)
        self.allow = allow
        self._skip = set(allow)         # allow-listed words and words known to be clean
        self.min_cutoff = min((r.cutoff for rs in refs.values() for r in rs), default=100.0)
        self._cache: dict[str, tuple[str, float] | None] = {}

    def _best(self, word: str) -> tuple[str, float] | None:
        try:
            return self._cache[word]
        except KeyError:
            pass
        found = None
        key = word.translate(_LOOKALIKE)
        choices = self.choices_by_letter.get(key[0])
        if choices and word not in self.term_words:  # a term's word spelt right is no misspelling
            # same first letter only: this also keeps "enforce" from becoming "cenforce"
            hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=self.min_cutoff)
            if hit is not None:
                found = (hit[0], hit[1])
        if found is None:
            if len(self._skip) < len(self.allow) + _CACHE_LIMIT:
                self._skip.add(word)
        elif len(self._cache) < _CACHE_LIMIT:
            self._cache[word] = found
        return found

    def _misspelt(self, words: set[str]) -> dict[str, tuple[str, float]]:
        """The words close to a term's word whose term's other words are among `words` too:
        word -> (term word, score)."""
        return {w: b for w in words - self._skip if len(w) >= self.min_length and (b := self._best(w)) is not None
                and any(words.issuperset(r.words[:r.index] + r.words[r.index + 1:]) for r in self.refs[b[0]])}

    def find_many(self, docs: list[Doc], explained: list[list[tuple[int, int]]]) -> list[list[FuzzyMatch]]:
        """`find` for a batch: one set operation over the words of all texts settles the known ones."""
        misspelt = self._misspelt(set(letter_words(TEXT_SEPARATOR.join(doc.text for doc in docs))))
        if not misspelt:
            return [[] for _ in docs]
        # a word that is found inside a text's words may still be the misspelt one: `find` decides
        spot = re.compile("|".join(sorted(misspelt, key=len, reverse=True)))
        return [self.find(doc, spans) if spot.search(doc.text) else [] for doc, spans in zip(docs, explained)]

    def find(self, doc: Doc, explained: list[tuple[int, int]]) -> list[FuzzyMatch]:
        """Fuzzy matches among the words of `doc` not covered by `explained` spans of `doc`."""
        out: list[FuzzyMatch] = []
        # set arithmetic first: most words were seen before and are known clean
        present = set(letter_words(doc.text))
        hits = self._misspelt(present)
        if not hits:
            return out
        tokens = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(doc.text)]
        for i, (word, start, end) in enumerate(tokens):
            best = hits.get(word)
            if best is None or any(s <= start and end <= e for s, e in explained):
                continue
            choice, score = best
            for ref in self.refs[choice]:
                if score < ref.cutoff or len(word) < len(ref.words[ref.index]) - 2:
                    continue
                first, last = i - ref.index, i - ref.index + len(ref.words) - 1
                if first < 0 or last >= len(tokens):
                    continue
                if any(tokens[first + k][0] != w for k, w in enumerate(ref.words) if k != ref.index):
                    continue
                s, e = doc.span(tokens[first][1], tokens[last][2])
                out.append(FuzzyMatch(ref, s, e, doc.original[s:e], score))
        return out


def letter_words(text: str) -> list[str]:
    """The runs of a-z in normalised text (what _WORD.findall gives)."""
    return text.encode("utf-8", "surrogatepass").translate(_ONLY_LETTERS).decode("ascii").split()
