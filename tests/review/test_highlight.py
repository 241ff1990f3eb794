"""Evidence on an attribute's name gets a row of its own on the flag page; other names do not."""
from scanner.review.highlight import highlight, listing_fields, spans_by_field

LISTING = {"listing_id": "L-9", "merchant_id": "M-9", "title": "Gift box",
           "attributes": {"Colour": "red", "Tadalafil <b>per</b> tablet": "20 mg"}}
FINDINGS = [{"rule": "sexual_health/pde5_ingredient",
             "evidence": [{"field": "attribute_names.Tadalafil <b>per</b> tablet", "start": 0, "end": 9,
                           "text": "Tadalafil", "detector": "keyword"}]}]


def test_a_marked_attribute_name_is_shown_before_its_value_and_escaped():
    spans = spans_by_field(FINDINGS)
    fields = listing_fields(LISTING, spans)
    names = [n for n, _ in fields]
    i = names.index("attribute_names.Tadalafil <b>per</b> tablet")
    assert names[i + 1] == "attributes.Tadalafil <b>per</b> tablet"
    assert "attribute_names.Colour" not in names and "attributes.Colour" in names
    html, _ = highlight(fields[i][1], spans[names[i]], 1000)
    assert str(html).startswith('<mark class="ev"') and "Tadalafil</mark>" in str(html)
    assert "<b>" not in str(html) and "&lt;b&gt;" in str(html)


def test_without_evidence_names_have_no_rows():
    assert not any(n.startswith("attribute_names.") for n, _ in listing_fields(LISTING))
