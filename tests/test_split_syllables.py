"""Terms split into syllables by spaces or punctuation ("sil-de-na-fil", "ka ma gra", "cross-b-o-w")
fire like split letters do (POLICY.md, Obfuscation), while hyphenated and dotted ordinary words
("e-mail", "Wi-Fi", "U.S.A.") make no match they did not make before."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import Scanner
from scanner.detectors.keywords import KeywordIndex
from scanner.text import Doc, normalise

AS_OF = "2022-02-01"


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return Scanner.load(models_dir=tmp_path_factory.mktemp("no-models"))


def listing(title, **kw):
    return {"listing_id": "L-1", "merchant_id": "M-1", "title": title, **kw}


def _split_matches(scanner, text):
    doc = normalise(text)
    return [m for m in scanner.keywords.find(doc) if m.obfuscated]


@pytest.mark.parametrize("title, rule, evidence", [
    ("Generic sil-de-na-fil 100mg tablets", "sexual_health/pde5_ingredient", "sil-de-na-fil"),
    ("TA.DA.LA.FIL 20mg x 30", "sexual_health/pde5_ingredient", "TA.DA.LA.FIL"),
    ("buy ka ma gra oral jelly now", "sexual_health/pde5_ingredient", "ka ma gra"),
    ("Ka.Ma.Gra 100", "sexual_health/pde5_ingredient", "Ka.Ma.Gra"),
    ("Mango e-li-quid 30ml", "e_cigarette/e_liquid", "e-li-quid"),
    ("premium va-pe jui-ce 60ml", "e_cigarette/e_liquid", "va-pe jui-ce"),
    ("Hunting cross-b-o-w with scope", "controlled_instrument/crossbow", "cross-b-o-w"),
    ("Hunting CROSS - B - O - W 150lbs", "controlled_instrument/crossbow", "CROSS - B - O - W"),
    ("s|i|l|d|e|n|a|f|i|l 50mg", "sexual_health/pde5_ingredient", "s|i|l|d|e|n|a|f|i|l"),
    ("c r 0 s s b 0 w hunting", "controlled_instrument/crossbow", "c r 0 s s b 0 w"),
    ("Via-gra 100mg blue pills", "sexual_health/pde5_ingredient", "Via-gra"),          # a word cut once
    ("Silden.afil citrate 50mg", "sexual_health/pde5_ingredient", "Silden.afil"),
])
def test_split_syllables_fire_and_quote_the_original(scanner, title, rule, evidence):
    data = listing(title)
    v = scanner.scan(data, as_of=AS_OF)
    assert v.decision != "pass", title
    texts = {e.text for f in v.findings if f.rule == rule for e in f.evidence}
    assert evidence in texts, (title, [(f.rule, [e.text for e in f.evidence]) for f in v.findings])
    for f in v.findings:
        for e in f.evidence:
            assert data[e.field][e.start:e.end] == e.text


def test_a_split_find_is_marked_obfuscated_and_a_spelling_with_separators_is_not(scanner):
    assert {m.text for m in _split_matches(scanner, "vape e-li-quid")} == {"e-li-quid"}
    plain = scanner.keywords.find(normalise("stun-gun and e-liquid"))
    assert {m.text for m in plain} >= {"stun-gun", "e-liquid"}
    assert not any(m.obfuscated for m in plain)


@pytest.mark.parametrize("text", [
    "e-mail support", "T-shirt", "Wi-Fi router", "co-op game", "x-ray film", "2-in-1 charger", "long-lasting",
    "anti-slip mat", "non-stick pan", "semi-auto", "USB-C cable", "A-B-C blocks for kids", "1. 2. 3. steps",
    "Made in U.S.A.", "Step 1. Wash 2. Dry 3. Fold", "size S/M/L/XL", "red/blue/green", "v1.2.3 firmware",
    "co., ltd. a-1", "via gra",  # two words: a space does not cut a word
])
def test_hyphenated_and_dotted_words_make_no_split_match(scanner, text):
    assert _split_matches(scanner, text) == []
    assert scanner.scan(listing(text), as_of=AS_OF).decision == "pass"


def test_a_split_term_must_split_its_own_words_and_start_and_end_with_whole_fragments():
    index = KeywordIndex(None, [("toy for men", "en", ("claim",)), ("kamagra", "en", ("drug",))])
    find = lambda text: [(m.text, m.obfuscated) for m in index.find(normalise(text))]
    assert find("toy for men") == [("toy for men", False)]
    assert find("kids toy. for men") == []                # the term's own words, with other separators
    assert find("to-y for men") == [("to-y for men", True)]
    assert find("ka-ma-gra") == [("ka-ma-gra", True)]
    assert find("oka-ma-gra") == [] and find("ka-ma-gran") == []  # not whole fragments
    assert find("ka    ma gra") == []                        # four separators


def test_batches_find_what_single_texts_find(scanner):
    texts = ["sil-de-na-fil 100mg", "ka ma gra", "plain kitchen towel", "e-li-quid\x00va-pe", "Нож-ба-боч-ка",
             "s|i|l|d|e|n|a|f|i|l", "cross-b-o-w and stun-gun", "c r 0 s s b 0 w"]
    docs = [Doc(t.lower(), t.lower()) for t in texts]
    key = lambda ms: [(m.ref.rule, m.ref.term, m.start, m.end, m.obfuscated) for m in ms]
    batched = scanner.keywords.find_many(docs)
    assert [key(ms) for ms in batched] == [key(scanner.keywords.find(d)) for d in docs]
    assert sum(1 for ms in batched for m in ms if m.obfuscated) >= 6


_TERMS = ["sildenafil", "tadalafil", "kamagra", "crossbow", "e-liquid", "vape juice"]
_NOISE = st.text(alphabet=st.sampled_from(list("ab ci\u200b\u00ad<>&;é.-|_1\u0430Ａ\n")), max_size=10)


def _syllables(term: str, cuts: list[int], separator: str) -> str:
    out, last = [], 0
    for cut in sorted({c % len(term) for c in cuts} - {0}):
        out.append(term[last:cut])
        last = cut
    return separator.join(out + [term[last:]])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_NOISE, st.sampled_from(_TERMS), st.lists(st.integers(0, 20), max_size=6),
       st.sampled_from([" ", "-", ".", " - ", "·", "\u200b-"]), _NOISE, st.booleans())
def test_split_evidence_always_quotes_the_original(scanner, before, term, cuts, separator, after, html):
    value = before + " " + _syllables(term, cuts, separator) + " " + after
    doc = normalise("<p>" + value + "</p>" if html else value, html=html)
    for m in scanner.keywords.find(doc):
        assert doc.original[m.start:m.end] == m.text
    split = normalise(_syllables(term, [3, 5, 7], "-"))  # three or more short pieces always fire
    assert any(m.obfuscated for m in scanner.keywords.find(split)), split.text
