"""Our scorer checks every evidence quote, an attribute name's as well (score.py skips those)."""
from scanner.ml.evaluate import score

CASE = {"case_id": "c", "listing": {"listing_id": "L", "merchant_id": "M", "title": "Gift box",
                                    "attributes": {"Tadalafil per tablet": "20 mg"}},
        "expect": {"decision": "block", "rules": ["sexual_health/pde5_ingredient"]}}


def evidence(field, start, end, text):
    return {"field": field, "start": start, "end": end, "text": text, "detector": "keyword"}


def test_quotes_of_attribute_names_and_values_are_checked():
    good = [evidence("attribute_names.Tadalafil per tablet", 0, 9, "Tadalafil"),
            evidence("attributes.Tadalafil per tablet", 0, 5, "20 mg"), evidence("title", 0, 4, "Gift")]
    assert score([CASE], [("block", {"sexual_health/pde5_ingredient"}, good)])["bad_evidence_offsets"] == 0
    for bad in (evidence("attribute_names.Tadalafil per tablet", 1, 10, "Tadalafil"),
                evidence("attributes.Tadalafil per tablet", 0, 5, "20 mgs")):
        assert score([CASE], [("block", {"sexual_health/pde5_ingredient"}, [bad])])["bad_evidence_offsets"] == 1
    # a name the listing does not have points at no text: nothing to check, as for lookups
    stray = evidence("attribute_names.Sildenafil", 0, 10, "Sildenafil")
    assert score([CASE], [("block", {"sexual_health/pde5_ingredient"}, [stray])])["bad_evidence_offsets"] == 0
