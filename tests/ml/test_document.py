"""listing_text and the way back from its offsets to the listing's fields."""
from scanner.ml import field_span, listing_text
from scanner.ml.document import SEPARATOR

LISTING = {
    "listing_id": "L-1", "merchant_id": "M-1",
    "title": "Salt nic pods",
    "description": "<p>Mango <b>ice</b> &amp; grape</p>",
    "attributes": {"Strength": "20mg"},
    "keywords": ["pod juice"],
}


def test_text_keeps_original_offsets_of_description():
    text = listing_text(LISTING)
    assert text.startswith("Salt nic pods" + SEPARATOR)
    i = text.index("Mango")
    assert field_span(LISTING, i, i + 5) == ("description", LISTING["description"].index("Mango"),
                                            LISTING["description"].index("Mango") + 5)
    assert "<b>" not in text and "&amp;" not in text


def test_attribute_value_maps_to_value_offsets():
    text = listing_text(LISTING)
    i = text.index("20mg")
    assert field_span(LISTING, i, i + 4) == ("attributes.Strength", 0, 4)
    j = text.index("Strength")
    assert field_span(LISTING, j, j + 8) is None  # the attribute's name is not its value


def test_keyword_span_and_every_mapped_span_matches_original():
    text = listing_text(LISTING)
    for word in ("Salt", "nic", "Mango", "grape", "20mg", "juice"):
        i = text.index(word)
        field, s, e = field_span(LISTING, i, i + len(word))
        value = {"title": LISTING["title"], "description": LISTING["description"],
                 "attributes.Strength": "20mg", "keywords[0]": "pod juice"}[field]
        assert value[s:e] == word


def test_parts_are_bounded():
    from scanner.ml.document import MAX_PART_CHARS
    text = listing_text({"title": "x" * (MAX_PART_CHARS * 3)})
    assert len(text) == MAX_PART_CHARS
