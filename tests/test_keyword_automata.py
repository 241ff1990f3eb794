"""The non-ASCII terms' automaton searches UTF-8 bytes (keywords._Utf8) for speed; it must find
exactly what the same automaton over characters finds, at the same character offsets."""
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.detectors.keywords import KeywordIndex, TermRef, _bytes_searchable
from scanner.text import search_view

# "典" and "蠀" hold the bytes 0x85 and 0xA0, which some C libraries call white space
TERMS = ["电子烟", "烟油", "典藏", "蠀", "нож", "жидкость", "ยาเสียว", "vị", "đ", "가열식", "😀烟"]
REF = TermRef("r", "g", "term", "t", "none", 1.0)


def automata():
    entries = {t: [REF] for t in TERMS}
    return KeywordIndex._automaton(entries, utf8=True), KeywordIndex._automaton(entries, utf8=False)


def hits(automaton, text):
    view = search_view(text)
    return [(end, value[0]) for end, value in automaton.iter(view, ignore_white_space=True)]


def test_bytes_of_continuation_characters_are_not_white_space_here():
    assert _bytes_searchable()


def test_byte_search_finds_every_term_at_its_character_offsets():
    by_bytes, _ = automata()
    text = "abc 典藏版 电子烟 x 蠀 Нож нож, жидкость ยาเสียว vị 😀烟 电 子 烟"
    found = hits(by_bytes, text)
    for term in ["典藏", "电子烟", "蠀", "нож", "жидкость", "ยาเสียว", "vị", "😀烟"]:
        start = text.index(term)
        assert (start + len(term) - 1, len(term)) in found, term
    assert (len(text) - 1, 3) in found   # "电 子 烟": the view's spaces are skipped
    assert len(found) == 9


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TERMS + ["a", " ", "-", "x1", "é", "典", "\x85", "\xa0", "\ud800", "烟", "油"]),
                max_size=30).map("".join))
def test_byte_search_equals_character_search(text):
    by_bytes, by_chars = automata()
    assert hits(by_bytes, text) == hits(by_chars, text)
