"""Normalisation of listing text, with an offset map back to the original characters.

`normalise(value)` returns a `Doc` whose `text` is searchable (NFKC, case-folded,
homoglyphs folded to Latin, accents stripped, zero-width and soft-hyphen characters
removed, HTML reduced to its text) and whose `span(i, j)` gives the original offsets
of any normalised slice, so evidence can quote exactly what the seller wrote.

Obfuscations: `skeleton(text)` folds leet characters and look-alike letters so that one
automaton pass finds leetspeak spellings too (`leet_reading` then checks a candidate), and
`search_view(text)` is that skeleton with the separators a term may be split by turned into
spaces, which the automaton skips: letters and syllables split by spaces or punctuation
("s i l d e n a f i l", "sil-de-na-fil", "ka ma gra") are found in the same pass, at the same
offsets as the text, and `split_fragments` decides whether such a find reads as a split term.
"""
from __future__ import annotations

import functools
import html
import json
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from importlib import resources

# Between texts searched as one (a listing's fields, a batch's listings): no term holds it, and
# it is neither a letter nor a word character, so it is a boundary for every detector.
TEXT_SEPARATOR = "\x00"
# Characters that only hide what a word says: zero-width, joiners, soft hyphen, marks.
INVISIBLE = frozenset("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e"
                      "\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\ufeff")
# What a leet character may stand for.
LEET_LETTERS = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t",
                "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"}
LEET_PAIRS = frozenset((c, t) for c, letters in LEET_LETTERS.items() for t in letters)
# Leetspeak skeleton: every leet character and its letters (l and i look alike) become one letter,
# so one automaton over skeletons finds plain and leetspeak spellings of a term in one pass.
_LOOKS_LIKE_I = "il"
_SKELETON_OF = {c: "i" if letters[0] in _LOOKS_LIKE_I else letters[0] for c, letters in LEET_LETTERS.items()} | {"l": "i"}
_SKELETON = bytes.maketrans("".join(c for c in _SKELETON_OF if c.isascii()).encode(),
                            "".join(t for c, t in _SKELETON_OF.items() if c.isascii()).encode())
_SKELETON_WIDE = {c: t for c, t in _SKELETON_OF.items() if not c.isascii()}  # one for one, by str.replace
_LEET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789" + "".join(LEET_LETTERS))
_LEET_SYMBOLS = "".join(c for c in LEET_LETTERS if not c.isalnum())
# Measurements are the common digit-and-letter tokens and never leetspeak: skip them cheaply.
_QUANTITY = re.compile(r"[0-9.]+(?:mm|cm|m|km|in|ml|l|mg|g|kg|lb|lbs|oz|pcs|pc|w|kw|v|mah|ah|hz|khz|mhz|"
                       r"ghz|gb|tb|mb|k|x|s|h|th|st|nd|rd|ft|db|p|d)?|[a-z]{0,2}[0-9.]+")
# What a seller may split a term by ("v.i.a.g.r.a", "sil-de-na-fil", "e-li-quid"): white space and
# punctuation that never spells a letter ("|" and "!" are leetspeak and stay letters) and never
# ends a word ("'" does: "women's a-line" is no "saline").
SPLIT_SEPARATORS = " \t\n\r\f\v\x1c\x1d\x1e\x1f.-*,/+~\"·•"
# In the search view they become spaces; so do the other spaces that the automaton skips.
_SPLIT_WIDE = ("·", "•", "\u1680", "\u2028", "\u2029")
_SEARCH = bytes.maketrans("".join(c for c in _SKELETON_OF if c.isascii()).encode()
                          + "".join(c for c in SPLIT_SEPARATORS if c.isascii()).encode(),
                          "".join(t for c, t in _SKELETON_OF.items() if c.isascii()).encode()
                          + b" " * sum(c.isascii() for c in SPLIT_SEPARATORS))
# A separator between a split term's fragments: those above, any space, and "|", which splits
# letters too ("s|i|l|d|e|n|a|f|i|l", searched in pipe_view when a text has letters split so).
_SPLIT_CLASS = "[" + re.escape(SPLIT_SEPARATORS) + "|\\s]"
_STRIP = re.compile(_SPLIT_CLASS)
_PIPE_SPLIT = re.compile(r"\|(?<=[^\W_]\|)[^\W_]{1,3}\|[^\W_]")  # "|" first: a fast literal search
# A split term: fragments (runs of letters or digits) joined by one to three separators.
_SPLIT = re.compile(rf"[^\W_]+(?:{_SPLIT_CLASS}{{1,3}}[^\W_]+)+")
_FRAGMENT = re.compile(r"[^\W_]+")
_SPLIT_CLASS_RE = re.compile(_SPLIT_CLASS)
# The split-term rule (split_fragments): at least MIN_FRAGMENTS fragments, at most one of them longer
# than SHORT_FRAGMENT characters, at least MIN_SPLIT_LETTERS characters in all.
MIN_FRAGMENTS = 3
SHORT_FRAGMENT = 3
MIN_SPLIT_LETTERS = 4
# A term cut once ("via-gra", "Silden.afil"): two letter runs of at least two letters each and
# MIN_TWO_PIECE_LETTERS in all, joined by one punctuation mark. A space does not cut a word
# (a "criss cross bow tie" holds no crossbow).
MIN_TWO_PIECE_LETTERS = 6
_CUT_MARKS = ".-*~+·•"
_TWO_PIECES = re.compile(rf"[^\W\d_]{{2,}}[{re.escape(_CUT_MARKS)}][^\W\d_]{{2,}}")
_LATIN_GREEK_CYRILLIC = 0x0530  # below this, combining accents are stripped from base letters
_BLOCK_TAGS = frozenset(["address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"])
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})


_FOLDED: dict[str, str] = {}
_FOLD_CACHE_LIMIT = 200_000  # distinct characters remembered; hostile text cannot grow it further


class Doc:
    """A normalised field value and its map back to the original.

    The map is the identity (`segments` None) or a list of segments — (normalised start,
    original start, original end, one-to-one) sorted by normalised start. The map of plain HTML
    markup is worked out only when first asked for (`lazy` makes it): most descriptions are
    searched, found clean or only in context words, and never quoted.
    """

    __slots__ = ("_keys", "_lazy", "_segments", "original", "text")

    def __init__(self, original: str, text: str, segments: list[tuple[int, int, int, bool]] | None = None,
                 lazy: Callable[[], list[tuple[int, int, int, bool]]] | None = None):
        self.original = original
        self.text = text
        self._segments = segments
        self._lazy = lazy
        self._keys: list[int] | None = None

    @property
    def segments(self) -> list[tuple[int, int, int, bool]] | None:
        if self._lazy is not None:
            self._segments = self._lazy()
            self._lazy = None
        return self._segments

    def _at(self, i: int) -> tuple[int, int]:
        """Original [start, end) of normalised character i."""
        if self._keys is None:
            self._keys = [seg[0] for seg in self.segments]
        norm, start, end, one_to_one = self._segments[bisect_right(self._keys, i) - 1]
        return (start + i - norm, start + i - norm + 1) if one_to_one else (start, end)

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original [start, end) of the normalised slice text[i:j] (j > i)."""
        if self._segments is None and self._lazy is None:
            return i, j
        return self._at(i)[0], self._at(j - 1)[1]

    def quote(self, i: int, j: int) -> tuple[int, int, str]:
        start, end = self.span(i, j)
        return start, end, self.original[start:end]


@functools.cache
def _confusable_fold() -> dict[str, str]:
    """Non-ASCII look-alikes of ASCII letters and digits, from Unicode's confusables table."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    fold: dict[str, str] = {}
    for char, entries in data.items():
        if len(char) != 1:
            continue
        for entry in entries:
            other = entry["c"]
            if len(other) != 1:
                continue
            if char.isascii() and char.isalpha() and not other.isascii():
                fold.setdefault(other, char.lower())
            elif other.isascii() and other.isalpha() and not char.isascii():
                fold.setdefault(char, other.lower())
    # text is case-folded before this table is used: give lower-case forms their capital's mapping
    for char, target in list(fold.items()):
        lower = char.lower()
        if lower != char and len(lower) == 1:
            fold.setdefault(lower, target)
    return fold


def fold_char(char: str) -> str:
    """What one original character becomes in normalised text, cached (the hot path asks
    `_FOLDED` directly and calls this only for a character it has not seen)."""
    folded = _FOLDED.get(char)
    if folded is None:
        folded = _fold_uncached(char)
        if len(_FOLDED) < _FOLD_CACHE_LIMIT:
            _FOLDED[char] = folded
    return folded


_GREEK_SYMBOLS = ("\u03d0", "\u03ff")   # Greek and Coptic: the symbol forms after the letters


def _fold_uncached(char: str) -> str:
    """What one original character becomes in normalised text (possibly '' or several chars)."""
    if char in INVISIBLE or unicodedata.category(char) == "Cf":
        return ""
    compat, lower = unicodedata.normalize("NFKC", char), char.casefold()
    if _GREEK_SYMBOLS[0] <= char <= _GREEK_SYMBOLS[1] and compat != char and len(compat) == 1:
        looks_like = _confusable_fold().get(lower)
        if looks_like and _confusable_fold().get(compat.casefold()) != looks_like:
            # NFKC makes Greek symbol forms other letters: the lunate sigma "Ϲ", a "C" to the eye,
            # becomes "σ" and the upsilon with hook "ϒ", a "Y", "υ"; they are kept for look-alike folding
            return lower
    out = []
    for c in compat:
        c = c.casefold()
        for d in unicodedata.normalize("NFD", c):
            if unicodedata.combining(d) and out and ord(out[-1][-1]) < _LATIN_GREEK_CYRILLIC:
                continue  # an accent on a Latin, Greek or Cyrillic letter
            if "\x80" <= d < "\u0530":
                d = _latin_base(d)
            elif "\u3400" <= d <= "\u9fff" or "\uf900" <= d <= "\ufaff":
                d = _simplified(d)
            out.append(d)
    return unicodedata.normalize("NFC", "".join(out))


@functools.cache
def _traditional_to_simplified():
    import opencc
    return opencc.OpenCC("t2s")


def _simplified(char: str) -> str:
    """A traditional Chinese character read as its simplified form (OpenCC's table), so "血壓計"
    meets the term "血压计"; one character for one, or the character itself."""
    simple = _traditional_to_simplified().convert(char)
    return simple if len(simple) == 1 else char


_LETTER_WITH = re.compile(r"LATIN (?:SMALL|CAPITAL) LETTER ([A-Z]) WITH ")


def _latin_base(char: str) -> str:
    """A Latin letter whose mark is part of the letter (no decomposition: "đ", "ł", "ø", "ħ")
    read as its base letter, as accents are; its Unicode name says which letter that is."""
    if unicodedata.decomposition(char):
        return char
    m = _LETTER_WITH.match(unicodedata.name(char, ""))
    return m.group(1).lower() if m else char


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@functools.cache
def _lookalike_word() -> re.Pattern:
    """A word for homoglyph folding: letters, digits and the look-alikes that are neither ("∣", "⍳")."""
    symbols = "".join(sorted(c for c in _confusable_fold() if not c.isalnum()))
    return re.compile(rf"(?:[^\W_]|[{re.escape(symbols)}])+")


def _words_with_non_ascii(text: str):
    """Matches of the words holding a non-ASCII character, found from the non-ASCII runs
    outwards (one regex for such words would backtrack over every word of the text)."""
    word = _lookalike_word()
    symbols = _confusable_fold()
    done = 0
    for run in _NON_ASCII.finditer(text):
        if run.end() <= done:
            continue
        a, b = max(run.start(), done), run.end()
        while a > done and (text[a - 1].isalnum() or text[a - 1] in symbols):
            a -= 1
        while b < len(text) and (text[b].isalnum() or text[b] in symbols):
            b += 1
        for m in word.finditer(text, a, b):
            if not m.group().isascii():
                yield m
        done = b


def _fold_homoglyphs(text: str) -> str:
    """Fold look-alike letters inside words that mix them with Latin letters ("viаgrа"),
    or that consist only of look-alikes; a word wholly in another script is left alone."""
    if text.isascii():
        return text
    fold = _confusable_fold()
    out = None
    for m in _words_with_non_ascii(text):
        word = m.group()
        foldable = [c for c in word if c in fold]
        if not foldable:
            continue
        has_latin = any("a" <= c <= "z" for c in word)
        if has_latin or len(foldable) == len(word):
            if out is None:
                out = list(text)
            for k, c in enumerate(word):
                if c in fold:
                    out[m.start() + k] = fold[c]
    return text if out is None else "".join(out)


def _fold_pieces(pieces: list[tuple[str, int, int]]) -> tuple[str, list[tuple[int, int, int, bool]]]:
    """Fold (text, start, end) pieces; a piece with end-start == len(text) maps char by char."""
    out: list[str] = []
    segments: list[tuple[int, int, int, bool]] = []
    n = 0  # normalised length so far
    if all(piece.isascii() for piece, _, _ in pieces):  # most HTML descriptions: one lower() at the end
        for piece, start, end in pieces:
            if piece:
                out.append(piece)
                segments.append((n, start, end, end - start == len(piece)))
                n += len(piece)
        return "".join(out).lower().replace("_", " "), segments

    def emit(text: str, start: int, end: int, one_to_one: bool) -> None:
        nonlocal n
        if text:
            out.append(text)
            segments.append((n, start, end, one_to_one))
            n += len(text)

    for piece, start, end in pieces:
        if end - start != len(piece):  # an entity or a tag's space: all of it maps to its source
            emit(piece.lower() if piece.isascii() else "".join(map(fold_char, piece)), start, end, False)
            continue
        if piece.isascii():
            emit(piece.lower(), start, end, True)
            continue
        pos = 0
        for m in _NON_ASCII.finditer(piece):
            emit(piece[pos:m.start()].lower(), start + pos, start + m.start(), True)
            run = m.group()
            folded = [_FOLDED[c] if c in _FOLDED else fold_char(c) for c in run]
            if all(len(f) == 1 for f in folded):  # the common case (CJK, most accents): one for one
                emit("".join(folded), start + m.start(), start + m.end(), True)
            else:
                for k, f in enumerate(folded, start=start + m.start()):
                    emit(f, k, k + 1, len(f) == 1)
            pos = m.end()
        emit(piece[pos:].lower(), start + pos, end, True)
    return _fold_homoglyphs("".join(out).replace("_", " ")), segments


# Tags, comments and character references. The stdlib HTMLParser gives the same text but costs
# ~50 µs a description, most of a listing's budget; this tokenizer keeps exact offsets cheaply.
_HTML_TOKEN = re.compile(r"<!--.*?(?:-->|$)|<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>|<![^>]*>|<\?[^>]*>"
                         r"|&(#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[a-zA-Z][a-zA-Z0-9]{1,31};)", re.DOTALL)


def _html_tokens(value: str):
    """_HTML_TOKEN.finditer(value), tried only where a token can start ("<" or "&"): the regex
    alone visits every character, which costs more than the rest of the HTML handling."""
    entity = "&#" in value or "&" in value and ";" in value   # "&" alone ("R&D") starts none
    if not entity and "<!" not in value and "<?" not in value:
        return _TAG.finditer(value)   # only tags can match: one regex with a literal start
    return _html_tokens_at_starts(value)


def _html_tokens_at_starts(value: str):
    pos, n = 0, len(value)
    lt, amp = value.find("<"), value.find("&")
    while True:
        if lt != -1 and lt < pos:
            lt = value.find("<", pos)
        if amp != -1 and amp < pos:
            amp = value.find("&", pos)
        if lt == -1 and amp == -1:
            return
        i = lt if amp == -1 or (lt != -1 and lt < amp) else amp
        m = _HTML_TOKEN.match(value, i)
        if m is None:
            pos = i + 1
        else:
            yield m
            pos = m.end() if m.end() > i else i + 1
        if pos > n:
            return


# _HTML_TOKEN's tag alternative alone, with a third group that never takes part (no entity)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>((?!))?")


# Attributes whose values a reader sees: an image's alt text, any element's tooltip (POLICY.md §1
# counts "pictures of it (image text / alt text where given)")
_SAID_ATTRIBUTE = re.compile(r"""\s(?:alt|title)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)


def _said_by(value: str, tag: re.Match) -> list[tuple[int, int]]:
    """(start, end) in `value` of the alt and title texts of an opening tag."""
    if "=" not in tag.group():
        return []
    out = []
    for a in _SAID_ATTRIBUTE.finditer(value, tag.start(), tag.end()):
        k = next(i for i in (1, 2, 3) if a.group(i) is not None)
        if a.group(k).strip():
            out.append((a.start(k), a.end(k)))
    return out


def _html_pieces(value: str) -> list[tuple[str, int, int]]:
    """HTML to (text, start, end) pieces with offsets into the original markup; alt and title
    texts count as text."""
    pieces: list[tuple[str, int, int]] = []
    pos = 0
    skip_until = None
    for m in _html_tokens(value):
        if skip_until is not None:
            if m.group(1) and m.group(2).lower() == skip_until:
                skip_until = None
                pos = m.end()
            continue
        if m.start() > pos:
            pieces.append((value[pos:m.start()], pos, m.start()))
        pos = m.end()
        tag, ref = m.group(2), m.group(3)
        if ref is not None:
            decoded = html.unescape(m.group())
            pieces.append((decoded, m.start(), m.end()))
        elif tag is not None:
            name = tag.lower()
            said = _said_by(value, m) if not m.group(1) else []
            if not m.group(1) and name in _SKIP_TAGS:
                skip_until = name
            elif said:
                at = m.start()
                for start, end in said:
                    pieces.append((" ", at, start))
                    pieces.append((html.unescape(value[start:end]), start, end))
                    at = end
                pieces.append((" ", at, m.end()))
            elif name in _BLOCK_TAGS:
                pieces.append((" ", m.start(), m.end()))
    if skip_until is None and pos < len(value):
        pieces.append((value[pos:], pos, len(value)))
    return pieces


def looks_like_html(value: str) -> bool:
    return "<" in value and ">" in value or "&" in value and ";" in value


_ENTITY_START = re.compile(r"&(?:#|[a-zA-Z][a-zA-Z0-9]{1,31};)")


def _plain_markup_text(value: str) -> tuple[str, list[tuple[int, int, bool]]] | None:
    """The text of markup that is only tags (no entity, comment, declaration, script/style-like
    element or alt/title text: see _html_pieces), block tags read as spaces, and the tags
    (start, end, block); else None."""
    if "<!" in value or "<?" in value or "&" in value and _ENTITY_START.search(value):
        return None
    tags: list[tuple[int, int, bool]] = []
    plain = True

    def tag_text(tag: re.Match) -> str:
        nonlocal plain
        name = tag.group(2).lower()
        if not tag.group(1) and (name in _SKIP_TAGS or "=" in tag.group() and _SAID_ATTRIBUTE.search(tag.group())):
            plain = False
        block = name in _BLOCK_TAGS
        tags.append((tag.start(), tag.end(), block))
        return " " if block else ""

    text = _TAG.sub(tag_text, value)
    return (text, tags) if plain else None


def _segments_between(tags: list[tuple[int, int, bool]], length: int) -> list[tuple[int, int, int, bool]]:
    """The segments of ASCII markup of `length` characters read as _plain_markup_text reads it:
    the text between tags one for one, a block tag's space for the whole tag."""
    segments, n, pos = [], 0, 0
    for start, end, block in tags:
        if start > pos:
            segments.append((n, pos, start, True))
            n += start - pos
        if block:
            segments.append((n, start, end, False))
            n += 1
        pos = end
    if pos < length:
        segments.append((n, pos, length, True))
    return segments


# OCR reads a capital I as a small l: "NlC 2%", "PRE-FlLLED". In a word of capitals, an l before a
# capital is that I (an l at the end stays: "HCl" is the chemist's hydrochloride).
_SMALL_L_BEFORE_CAPITAL = re.compile(r"l[A-Z]")
_OCR_CAPITALS_WORD = re.compile(r"(?<![^\W\d_])[A-Zl]*l[A-Z][A-Zl]*(?![^\W\d_])")


def _capital_i_for_small_l(value: str) -> str:
    """`value` with OCR's small l read as I inside words of capitals (same length)."""
    if not _SMALL_L_BEFORE_CAPITAL.search(value):
        return value
    return _OCR_CAPITALS_WORD.sub(lambda m: m.group().replace("l", "I"), value)


def normalise(value: str, html: bool = False) -> Doc:
    """The searchable form of one field value, with its map back to `value`."""
    reading = _capital_i_for_small_l(value)
    if reading != value:
        doc = _normalise(reading, html)
        doc.original = value  # read one for one: the map holds
        return doc
    return _normalise(value, html)


def _normalise(value: str, html: bool) -> Doc:
    if html and looks_like_html(value):
        plain = _plain_markup_text(value)
        if plain is None:
            text, segments = _fold_pieces(_html_pieces(value))
            return Doc(value, text, segments=segments)
        text, tags = plain
        if text.isascii():
            return Doc(value, text.lower().replace("_", " "), lazy=lambda: _segments_between(tags, len(value)))
        # folded as one piece the text is the pieces' text (characters fold one by one); the map
        # is the full reading's, when asked for
        return Doc(value, _fold_pieces([(text, 0, len(text))])[0],
                   lazy=lambda: _fold_pieces(_html_pieces(value))[1])
    if value.isascii():
        return Doc(value, value.lower().replace("_", " "))
    text, segments = _fold_pieces([(value, 0, len(value))])
    return Doc(value, text, segments=segments)


def normalise_term(term: str) -> str:
    """A ruleset term in the same normalised form as listing text."""
    return normalise(term).text.strip()


def skeleton(text: str) -> str:
    """`text` with leet characters and look-alike letters folded (same length, char for char)."""
    if not text.isascii():
        for c, t in _SKELETON_WIDE.items():
            text = text.replace(c, t)
    if text.isascii():
        return text.encode("ascii").translate(_SKELETON).decode("ascii")
    return text.encode("utf-8", "surrogatepass").translate(_SKELETON).decode("utf-8", "surrogatepass")


def leet_reading(text: str, start: int, term: str) -> bool:
    """Whether text[start:start+len(term)] spells `term` in leetspeak: it differs only where a
    leet character stands for the term's letter, and no changed character sits in a quantity or
    a number ("30ml", "2000")."""
    written = text[start:start + len(term)]
    if len(written) != len(term) or written == term:
        return False
    for k, (c, t) in enumerate(zip(written, term)):
        if c == t:
            continue
        if (c, t) not in LEET_PAIRS:
            return False
        a = b = start + k
        while a > 0 and text[a - 1] in _LEET_CHARS:
            a -= 1
        while b < len(text) and text[b] in _LEET_CHARS:
            b += 1
        token = text[a:b].strip(_LEET_SYMBOLS)
        if not token or token.isdigit() or _QUANTITY.fullmatch(token):
            return False
    return True


def search_view(text: str) -> str:
    """`skeleton(text)` with SPLIT_SEPARATORS (and the spaces the automaton skips) turned into
    spaces: the same length, character for character, so a find's offsets are the text's."""
    if text.isascii():
        return text.encode("ascii").translate(_SEARCH).decode("ascii")
    for c in _SPLIT_WIDE:
        if c in text:
            text = text.replace(c, " ")
    for c, t in _SKELETON_WIDE.items():
        text = text.replace(c, t)
    return text.encode("utf-8", "surrogatepass").translate(_SEARCH).decode("utf-8", "surrogatepass")


def pipe_view(text: str) -> str | None:
    """The search view with "|" as a separator too, when `text` has letters split by pipes
    (the search view reads "|" as a leet "l" or "i", as in "v|agra"), else None."""
    if "|" in text and _PIPE_SPLIT.search(text):
        return search_view(text.replace("|", " "))
    return None


def strip_separators(term: str) -> str:
    """A normalised term without separators (_SPLIT_CLASS): its letters as the search view reads them."""
    return _STRIP.sub("", term)


def split_fragments(text: str, start: int, end: int) -> int:
    """How many fragments text[start:end] holds if it reads as a term that a seller split up, else 0.

    text[start:end] is where a term's letters were found with separators between them. It reads
    as a split term when it is MIN_FRAGMENTS or more whole fragments (runs of letters or digits;
    an apostrophe inside a word keeps it whole) joined by one to three separators, at most one
    fragment is longer than SHORT_FRAGMENT characters, it holds at least MIN_SPLIT_LETTERS of them,
    and its first and last fragments are no bare numbers ("e-liquid, 5" is no leetspeak
    "e-liquids"); or when it is a word cut once by a punctuation mark (_TWO_PIECES, at least
    MIN_TWO_PIECE_LETTERS letters). "sil-de-na-fil", "ka ma gra", "e-li-quid", "cross-b-o-w",
    "s i l d e n a f i l", "via-gra", "Silden.afil" do; "e-mail", "Wi-Fi", "co-op", "x-ray",
    "T-shirt", "USB-C" (a piece of one letter or too few letters), "via gra" (a space),
    "U.S.A." (three letters), "heavy duty for men" (two long fragments and a space), "ka    ma gra"
    (four spaces), "women's a-line" ("s" is part of "women's") and "oka-ma-gra" (not a whole
    fragment) do not. Ordinary hyphenated or spaced words are rarely three short pieces in a row
    whose letters spell a term, and a hyphenated word whose letters spell a one-word term is
    mostly that term ("cross-bow", "hand-cuffs"); the caller also needs more fragments than the
    term has words (so "long-lasting" is no split "long lasting", and "toy. for men" no split
    "toy for men").
    """
    if start and (text[start - 1].isalnum() or text[start - 1] == "'" and start > 1 and text[start - 2].isalnum()):
        return 0
    if end < len(text) and text[end].isalnum():
        return 0
    written = text[start:end]
    if _SPLIT.fullmatch(written) is None:
        return 0
    fragments = _FRAGMENT.findall(written)
    if len(fragments) == 2:   # a word cut once, not a piece of a longer cut ("li-quid" in "e-li-quid")
        cut_around = (start >= 2 and text[start - 1] in _CUT_MARKS and text[start - 2].isalnum()
                      or end + 1 < len(text) and text[end] in _CUT_MARKS and text[end + 1].isalnum())
        return 2 if _TWO_PIECES.fullmatch(written) and len(written) - 1 >= MIN_TWO_PIECE_LETTERS and not cut_around else 0
    if (len(fragments) < MIN_FRAGMENTS or sum(len(f) > SHORT_FRAGMENT for f in fragments) > 1
            or sum(map(len, fragments)) < MIN_SPLIT_LETTERS or fragments[0].isdigit() or fragments[-1].isdigit()):
        return 0
    if _spaced_on(text, start, -1) or _spaced_on(text, end, 1):
        return 0    # letters of a longer spaced-out word ("H A N C E R" in "E N H A N C E R")
    return len(fragments)


def _spaced_on(text: str, edge: int, step: int) -> bool:
    """Whether one letter, set off by one separator, adjoins the edge of a split reading on the
    side `step` points to: the reading is then inside a longer word whose letters are spaced out
    (two or more separators, or a longer fragment, end a spaced-out word)."""
    sep, letter, beyond = (edge - 1, edge - 2, edge - 3) if step < 0 else (edge, edge + 1, edge + 2)
    inside = lambda i: 0 <= i < len(text)
    return (inside(letter) and _SPLIT_CLASS_RE.fullmatch(text[sep]) is not None and text[letter].isalpha()
            and not (inside(beyond) and text[beyond].isalnum()))


def word_char(c: str) -> bool:
    """A letter or digit that a word boundary is checked against: CJK and kana are written
    without spaces between words and need none."""
    return c.isalnum() and ord(c) < 0x2E80


def word_count(term: str) -> int:
    """The fragments (runs of letters or digits) of a normalised term: "vape juice" has two."""
    return len(_FRAGMENT.findall(term))
