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
    # the attribute's name is not its value: a span on it maps to the name, clipped to it
    assert field_span(LISTING, j, j + 8) == ("attribute_names.Strength", 0, 8)
    assert field_span(LISTING, j + 3, j + 12) == ("attribute_names.Strength", 3, 8)
    assert field_span(LISTING, j + 8, j + 9) is None   # the ": " between name and value


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


def test_model_text_has_the_features_of_listing_text():
    """Engine predictions read model_text (a tag is one space) while training read listing_text
    (a tag is as many spaces as characters): the hashed n-grams must be the same."""
    import numpy as np

    from scanner.ml.document import model_text
    from scanner.ml.features import BatchHasher, FeatureParams
    listings = [
        {"title": "Vape  juice", "description": "<p>Mango <b>e-liquid</b>&nbsp;60ml</p><ul><li>70/30 VG</li></ul>"},
        {"title": "t", "description": "a<br>b &amp; c<img alt='x'>d", "attributes": {"Nicotine": "3mg"},
         "keywords": ["<i>salt</i>"]},
        {"title": "电子烟", "description": "<div>烟油&#233;</div> 10ml\t<span> x </span>"},
        {"title": "plain", "description": "no markup at all", "image_texts": ["a < b > c"]},
    ]
    hasher = BatchHasher(FeatureParams(char_bits=12, word_bits=12))
    for listing in listings:
        assert model_text(listing) != listing_text(listing) or "<" not in listing["description"]
        want, got = (hasher.ngrams([f(listing)]) for f in (listing_text, model_text))
        key = lambda b: sorted(zip(b.cols.tolist(), b.positive.tolist()))
        assert key(got) == key(want)
        assert len(got.cols) == len(want.cols) > 0
        assert np.array_equal(hasher.transform([model_text(listing)]).toarray(),
                              hasher.transform([listing_text(listing)]).toarray())
