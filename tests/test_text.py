from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.text import SPLIT_SEPARATORS, normalise, normalise_term, search_view, skeleton, split_fragments

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
htmlish = st.lists(st.sampled_from(["<p>", "</p>", "<br>", "&amp;", "&lt;", "&#233;", "<b>", "</b>", "e-liquid",
                                    "Vi\u0430gra", "s i l d e n a f i l", "c r 0 s s", "\u200b", "\u00ad",
                                    "ｆｕｌｌ", "é", " ", "x", "<script>alert(1)</script>", '<img alt="Vape juice">',
                                    "<img src=a.jpg title='e-j&amp;uice'>", '<a title="" href=x>', "<img alt=kamagra>"]),
                   max_size=20).map("".join)


def _check_spans(doc):
    n = len(doc.text)
    for i in range(n):
        for j in range(i + 1, min(n, i + 6) + 1):
            start, end = doc.span(i, j)
            assert 0 <= start <= end <= len(doc.original)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_every_normalised_span_maps_inside_the_original(value):
    doc = normalise(value)
    _check_spans(doc)
    assert len(search_view(doc.text)) == len(doc.text)  # a find's offsets in the view are the text's


@settings(max_examples=300, deadline=None)
@given(htmlish)
def test_html_spans_map_inside_the_original(value):
    doc = normalise(value, html=True)
    _check_spans(doc)
    assert "alert" not in doc.text  # script content is not text


def test_evidence_quotes_the_original():
    value = "Buy Vi\u0430gr\u0430 now"  # Cyrillic а
    doc = normalise(value)
    i = doc.text.index("viagra")
    start, end, text = doc.quote(i, i + 6)
    assert text == value[start:end] == "Vi\u0430gr\u0430"


def test_html_entities_and_tags_map_back():
    value = "<p>Nic salt &amp; <b>E-Liquid</b></p>"
    doc = normalise(value, html=True)
    i = doc.text.index("e-liquid")
    assert doc.quote(i, i + 8)[2] == "E-Liquid"
    j = doc.text.index("&")
    assert doc.quote(j, j + 1)[2] == "&amp;"


def test_alt_and_title_texts_are_text():
    """What an image says (alt) or a tooltip (title) counts, quoted from inside the markup; the
    tag's other attributes do not."""
    value = '<p>Kit</p><img src="vape-juice.jpg" alt="Nicotine salt 30ml"><a title=\'Mango &amp; ice\' href=x>x</a>'
    doc = normalise(value, html=True)
    assert "nicotine salt 30ml" in doc.text and "mango & ice" in doc.text and "vape-juice" not in doc.text
    i = doc.text.index("nicotine")
    assert doc.quote(i, i + 13)[2] == "Nicotine salt"
    assert normalise("<p>Kit</p>", html=True).text.split() == ["kit"]
    assert "alt" not in normalise('<img alt="" src=x>ok', html=True).text


def test_invisible_characters_and_width_are_removed():
    assert normalise("sil\u200bden\u00adafil").text == "sildenafil"
    assert normalise("ＳＩＬＤＥＮＡＦＩＬ").text == "sildenafil"
    assert normalise("Sildénafil").text == "sildenafil"


def test_letters_with_a_stroke_read_as_their_base_letter_like_accents():
    # Vietnamese đ, Polish ł, Danish ø have no decomposition: without this "điện" never meets "dien"
    for written, read in [("Dùi cui điện", "dui cui dien"), ("Paralizator elektryczny łokieć", "paralizator elektryczny lokiec"),
                          ("Øre ĦĐŁ", "ore hdl")]:
        doc = normalise(written)
        assert doc.text == read and doc.span(0, len(doc.text)) == (0, len(written))
    assert normalise("Æther straße").text == "æther strasse"   # letters of their own are kept


def test_traditional_chinese_reads_as_simplified_character_for_character():
    for written, read in [("電子煙油 30ml", "电子烟油 30ml"), ("血壓計", "血压计"), ("國械註准20173460427", "国械注准20173460427")]:
        doc = normalise(written)
        assert doc.text == read and doc.span(0, len(doc.text)) == (0, len(written))
    assert normalise_term("隱形眼鏡") == normalise_term("隐形眼镜")
    assert normalise("ナイフ 刃渡り").text == "ナイフ 刃渡り"   # kana and characters without another form stay


def test_ocr_small_l_among_capitals_reads_as_i():
    # OCR of packs reads a capital I as a small l; quoted as written, searched as read
    for written, read in [("PRE-FlLLED P0DS", "pre-filled p0ds"), ("NlC 2%", "nic 2%"), ("<b>NlCOTlNE</b>", "nicotine")]:
        doc = normalise(written, html=True)
        assert doc.text == read and doc.original == written
        assert doc.quote(0, 3)[2] == written.removeprefix("<b>")[:3]
    for kept in ["Dapoxetine HCl", "lPhone case", "Al alloy", "ml MG", "Nl"]:   # an l at a word's end, mixed case
        assert normalise(kept).text == kept.lower()


def test_other_scripts_are_not_latinised():
    assert normalise("Нож-бабочка").text == "нож-бабочка"


def test_leetspeak_is_read_only_through_the_skeleton():
    doc = normalise("4K TV s1ldenafil")
    assert doc.text == "4k tv s1ldenafil"   # normalisation keeps what was written
    assert skeleton(doc.text).endswith(" " + skeleton("sildenafil"))


def test_split_letters_are_spaced_in_the_search_view():
    doc = normalise("S.i.l.d.e.n.a.f.i.l 50mg, v|agra")
    view = search_view(doc.text)
    assert view == "s i i d e n a f i i somg  viagra"   # separators are spaces, leetspeak folded ("|" is a letter)
    assert "".join(view[:19].split()) == skeleton("sildenafil")
    assert doc.quote(0, 19)[2] == "S.i.l.d.e.n.a.f.i.l"


def test_terms_normalise_like_text():
    assert normalise_term("  E-Liquid ") == "e-liquid"


def _words(text: str) -> str:
    return "".join(text.split())  # BeautifulSoup's separators differ from ours only in white space


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<br/>", "<div class='a'>", "</div>", "<b>", "</b>",
                                 "<li>", "</li>", "&amp;", "&nbsp;", "&#8482;", "&eacute;", "Nic salt",
                                 "VG/PG 70/30", "Packing:", "1pc/opp bag", " ", "\n", "<!-- c -->",
                                 "<script>var x=1;</script>", "<style>p{}</style>", "ok"]), max_size=25)
       .map("".join))
def test_html_text_matches_beautifulsoup(value):
    """The fast tokenizer yields the same text as BeautifulSoup's html.parser (the reference)."""
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(value, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    expected = _words(normalise(soup.get_text(" ")).text)
    assert _words(normalise(value, html=True).text) == expected


_spacing = st.text(alphabet="ab1 .-_*,/|+~'\"x(é·\t\u2028", max_size=16)


@settings(max_examples=500, deadline=None)
@given(_spacing)
def test_search_view_is_the_skeleton_with_separators_as_spaces(value):
    view = search_view(value)
    assert len(view) == len(value)
    for c, v, s in zip(value, view, skeleton(value)):
        assert v == (" " if c in SPLIT_SEPARATORS or c.isspace() and c not in "\x85\xa0" else s), (value, c)


def test_split_fragments_reads_split_terms_only():
    for written, fragments in [("sil-de-na-fil", 4), ("ta.da.la.fil", 4), ("ka ma gra", 3), ("e-li-quid", 3),
                               ("va-pe jui-ce", 4), ("cross-b-o-w", 4), ("s i l d e n a f i l", 10),
                               ("ta-dala-fil", 3), ("ka . ma . gra", 3), ("c r 0 s s b 0 w", 8)]:
        assert split_fragments(written, 0, len(written)) == fragments, written
        assert split_fragments(f"buy {written}, now", 4, 4 + len(written)) == fragments, written
    for written in ["via-gra", "silden.afil", "kama*gra", "long-lasting", "anti-slip"]:  # a word cut once
        assert split_fragments(f"buy {written} now", 4, 4 + len(written)) == 2, written
    for written in ["e-mail", "T-shirt", "wi-fi", "co-op", "x-ray", "usb-c", "via gra", "via--gra", "vi-agra2",
                    "u.s.a",                                          # cut once: too short, not one mark; three letters
                    "heavy duty for", "heavy-duty-kit", "kamagra",    # two long fragments, or none split
                    "ka    ma gra", "ka(ma)gra", "ka-ma-",            # four separators, not separators, no end
                    "e-liquid, 5", "5-il-de-na-fil"]:                 # a number first or last
        assert split_fragments(written, 0, len(written)) == 0, written
    for text, start, end in [("women's a-line", 6, 14), ("oka-ma-gra", 1, 10), ("ka-ma-gran", 0, 9),
                             ("e-li-quid", 2, 9), ("sil-den-afil", 4, 12)]:  # (or part of a longer cut)
        assert split_fragments(text, start, end) == 0, text[start:end]   # not whole fragments
    # letters of a longer spaced-out word are no split term; a word break (two separators, or a
    # longer fragment) ends a spaced-out word
    for text, start, end, fragments in [("E N H A N C E R", 4, 15, 0), ("S I L D E N A F I L S", 0, 19, 0),
                                        ("S E X  E N H A N C E R", 7, 22, 8), ("buy S I L D E N A F I L", 4, 23, 10),
                                        ("N O W  S I L D E N A F I L  T A B S", 7, 26, 10)]:
        assert split_fragments(text, start, end) == fragments, text[start:end]


def test_skeleton_keeps_length_and_folds_leetspeak():
    from scanner.text import skeleton
    for value in ["v1agra", "$ildenafil €-liquid", "crossbow 中文", "p|ll"]:
        assert len(skeleton(value)) == len(value)
    assert skeleton("v1agra") == skeleton("viagra") == skeleton("vlagra")


def test_leet_reading_needs_leet_characters_outside_quantities():
    from scanner.text import leet_reading
    assert leet_reading("buy v1agra now", 4, "viagra")
    assert leet_reading("cr0ssb0w", 0, "crossbow")
    assert not leet_reading("buy vlagra now", 4, "viagra")   # a look-alike letter is fuzzy's job
    assert not leet_reading("buy viagra now", 4, "viagra")   # plain spelling is no leetspeak
    assert not leet_reading("pack of 10 0il", 8, "io oil")   # "10" is a number
    assert not leet_reading("size 5ml", 5, "sml")             # "5ml" is a quantity


@settings(max_examples=300, deadline=None)
@given(texts)
def test_fuzzy_words_are_the_letter_runs(value):
    import re

    from scanner.detectors.fuzzy import letter_words
    text = normalise(value).text
    assert letter_words(text) == re.findall(r"[a-z]+", text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abcа日本 ,._é1ⅷ\u0301-∣×", max_size=24))
def test_words_with_non_ascii_are_the_lookalike_words(value):
    from scanner.text import _lookalike_word, _words_with_non_ascii
    expected = [m.span() for m in _lookalike_word().finditer(value) if not m.group().isascii()]
    assert [m.span() for m in _words_with_non_ascii(value)] == expected


def test_homoglyphs_fold_across_lookalike_symbols():
    assert normalise("v\u2223agra").text == "vlagra"   # "∣" is a look-alike of l
    assert normalise("Нож-бабочка 定制logo").text == "нож-бабочка 定制logo"


def test_greek_symbol_forms_fold_to_the_latin_letter_they_look_like():
    # NFKC would make the lunate sigma a "σ" (an "o" look-alike) and the upsilon with hook a "υ"
    for word, folded in (("\u03f9ialis", "cialis"), ("\u03f2ialis", "cialis"), ("pla\u03d2station", "playstation")):
        doc = normalise(f"buy {word} now")
        assert doc.text == f"buy {folded} now"
        assert doc.quote(4, 4 + len(folded))[2] == word


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<", ">", "&", "&amp;", "&#233;", "&#x41", "<!--", "-->", "<!x>",
                                 "<?y>", "<b class='a'>", "text", " ", "&lt", "<br/>", "<1>", "&;", "a<b", ";",
                                 "R&D", "&ab", "#"]),
                max_size=12).map("".join))
def test_html_tokens_are_the_regex_tokens(value):
    from scanner.text import _HTML_TOKEN, _html_tokens
    assert [m.span() for m in _html_tokens(value)] == [m.span() for m in _HTML_TOKEN.finditer(value)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</P>", "<br/>", "<b>", "</b>", "<DIV class='x'>", "<", ">", "a<b", "<b<p>>",
                                 "<p<b>>", "<script>x</script>", "<Style>", "<scripts>", '<img alt="vape">',
                                 "<img salt=1>", "<a title = 'x'>", "&amp;", "R&D", "&#233;", "<!--c-->", "<?x>",
                                 "Tea_Bag", "ÄÖ", "电子烟", "Viаgrа", "ｆｕｌｌ", "\u200b", "İ", "ß", " ", "x"]),
                max_size=16).map("".join))
def test_plain_markup_fast_path_reads_what_the_html_pieces_read(value):
    """Markup of tags alone is read in one regex pass and mapped only when asked: the text and the
    map must be those of the full reading (_html_pieces, _fold_pieces)."""
    from scanner.text import Doc, _fold_pieces, _html_pieces
    doc = normalise(value, html=True)
    full = Doc(value, *_fold_pieces(_html_pieces(value)))
    assert doc.text == full.text
    n = len(doc.text)
    assert [doc.span(i, j) for i in range(n) for j in range(i + 1, n + 1)] == \
        [full.span(i, j) for i in range(n) for j in range(i + 1, n + 1)]
