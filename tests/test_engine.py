import datetime as dt
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import Scanner
from scanner.listing import Listing, RecordError

AS_OF = "2022-02-01"


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    # the rules alone: the classifiers' say is tested in tests/test_engine_ml.py
    return Scanner.load(models_dir=tmp_path_factory.mktemp("no-models"))


def listing(title, **kw):
    return {"listing_id": kw.pop("listing_id", "L-1"), "merchant_id": "M-1", "title": title, **kw}


def check_evidence(data, verdict):
    for f in verdict.findings:
        for e in f.evidence:
            if e.field == "title":
                assert data["title"][e.start:e.end] == e.text
            elif e.field == "description":
                assert data["description"][e.start:e.end] == e.text


def test_plain_dict_and_listing_object_give_the_same_verdict(scanner):
    data = listing("Compound crossbow 175 lbs with scope")
    a = scanner.scan(data, as_of=AS_OF)
    b = scanner.scan(Listing(**data), as_of=AS_OF)
    assert a.to_dict() == b.to_dict()
    assert a.decision == "block" and a.points == 6 and a.blocked_markets == ["*"]
    assert a.findings[0].grade == "A" and a.findings[0].evidence[0].detector == "keyword"
    check_evidence(data, a)


def test_ordinary_listing_passes(scanner):
    v = scanner.scan(listing("Stainless steel water bottle 750ml double wall"), as_of=AS_OF)
    assert v.decision == "pass" and v.findings == [] and v.points == 0 and v.blocked_markets == []


def test_obfuscations_fire_and_point_at_the_original(scanner):
    for title, expected in [("S.i.l.d.e.n.a.f.i.l 50mg tabs", "S.i.l.d.e.n.a.f.i.l"),
                            ("V1agra 100mg generic", "V1agra"),
                            ("Vi\u0430gr\u0430 generic 20 tabs", "Vi\u0430gr\u0430"),
                            ("cr0ssb0w hunting 150lbs", "cr0ssb0w"),
                            ("sil\u200bdenafil powder", "sil\u200bdenafil"),
                            ("Sildenaffil citrate tablets", "Sildenaffil")]:
        data = listing(title)
        v = scanner.scan(data, as_of=AS_OF)
        assert v.decision == "block", title
        texts = [e.text for f in v.findings for e in f.evidence]
        assert expected in texts, (title, texts)
        check_evidence(data, v)


def test_fuzzy_match_is_marked_fuzzy(scanner):
    v = scanner.scan(listing("Tadalafli 20mg tablets"), as_of=AS_OF)
    assert v.findings[0].evidence[0].detector == "fuzzy"


def test_crossbody_never_becomes_crossbow(scanner):
    assert scanner.scan(listing("Crossbody bag women leather"), as_of=AS_OF).decision == "pass"


def test_html_description_offsets(scanner):
    data = listing("Pod kit 1000mAh", description="<p>Flavours: mango</p><br><b>VG/PG 70/30</b> nic salt 20mg",
                   category="Consumer Electronics > Electronic Cigarettes")
    v = scanner.scan(data, as_of=AS_OF)
    assert [f.rule for f in v.findings] == ["e_cigarette/e_liquid"]
    check_evidence(data, v)


def test_category_constraint(scanner):
    inside = scanner.scan(listing("Box mod 200W dual 18650",
                                  category="Consumer Electronics > Electronic Cigarettes > Mods"), as_of=AS_OF)
    outside = scanner.scan(listing("Box mod 200W dual 18650", category="Home & Garden"), as_of=AS_OF)
    assert inside.decision == "pass"
    assert [f.rule for f in outside.findings] == ["e_cigarette/outside_category"]
    assert outside.points == 2 and outside.findings[0].grade == "B"


def test_points_once_per_rule(scanner):
    v = scanner.scan(listing("Dagger dagger push dagger boot dagger", description="Dagger. Dagger."), as_of=AS_OF)
    assert len(v.findings) == 1 and v.points == 6


def test_findings_ordered_most_severe_first(scanner):
    v = scanner.scan(listing("Trench knife dagger with brass knuckles guard"), as_of=AS_OF)
    assert [f.rule for f in v.findings] == ["controlled_instrument/knife", "controlled_instrument/general"]
    assert v.points == 8


def test_knife_measurement_thresholds(scanner):
    def decide(title, **attrs):
        return scanner.scan(listing(title, attributes=attrs), as_of=AS_OF).decision
    assert decide("Hunting knife fixed blade", **{"Blade Length": "23cm"}) == "block"      # > 220 mm
    assert decide("Hunting knife clip point", **{"Blade Length": "16cm"}) == "block"       # pointed, > 150
    assert decide("Hunting knife", **{"Blade Length": "16cm"}) == "pass"                   # tip unknown
    assert decide("Hunting knife", **{"Blade Length": "16cm", "Tip Angle": "40°"}) == "block"
    assert decide("Hunting knife round tip", **{"Blade Length": "20cm"}) == "pass"
    assert decide("Chef knife kitchen", **{"Blade Length": "25cm"}) == "pass"              # exempt
    assert decide("Outdoor knife 10 inch blade") == "block"                                  # 254 mm
    assert decide("Outdoor knife, total length 24 inch, 3 inch blade") == "pass"


def test_effective_date_and_as_of(scanner):
    data = listing("Nicotine salt e-liquid 30ml")
    assert scanner.scan(data, as_of="2021-11-01").decision == "pass"
    assert scanner.scan(data, as_of=dt.date(2022, 1, 1)).decision == "block"
    assert scanner.scan(data).as_of == dt.date.today().isoformat()


def test_versions_are_recorded(scanner):
    v = scanner.scan(listing("anything"), as_of=AS_OF)
    assert v.ruleset_version == scanner.ruleset_version and v.model_version == scanner.model_version
    assert v.as_of == AS_OF


def test_scan_many_keeps_input_order(scanner):
    items = [listing(t, listing_id=f"L-{i}") for i, t in enumerate(["dagger", "socks", "taser", "mug"] * 50)]
    out = list(scanner.scan_many(items, as_of=AS_OF))
    assert [v.listing_id for v in out] == [i["listing_id"] for i in items]
    assert [v.decision for v in out[:4]] == ["block", "pass", "block", "pass"]


@pytest.mark.parametrize("bad,field", [
    ({"merchant_id": "M", "title": "x"}, "listing_id"),
    ({"listing_id": "L", "merchant_id": "M", "title": 5}, "title"),
    ({"listing_id": "L", "merchant_id": "M", "title": "x", "attributes": {"a": 1}}, "attributes.a"),
    ({"listing_id": "L", "merchant_id": "M", "title": "x" * 5000}, "title"),
    ({"listing_id": "L", "merchant_id": "M", "title": "x", "keywords": ["ok", "k" * 6000]}, "keywords.1"),
    ({"listing_id": "L", "merchant_id": "M", "title": "x", "attributes": {"n" * 300: "v"}}, "attributes.nnnn"),
    ({"listing_id": "L", "merchant_id": "M", "title": "x", "target_markets": "US"}, "target_markets"),
    ({"listing_id": "L", "merchant_id": "M", "title": "x", "image_texts": [None]}, "image_texts.0"),
])
def test_bad_listing_names_record_and_field(scanner, bad, field):
    with pytest.raises(RecordError) as err:
        scanner.scan(bad)
    assert err.value.field.startswith(field)
    assert "listing" in err.value.record


def test_unknown_fields_are_ignored(scanner):
    v = scanner.scan({**listing("taser 50000v"), "colour": "red"}, as_of=AS_OF)
    assert v.decision == "block"


def test_hard_negatives_pass(scanner):
    for title in ["Vape-free zone sign", "Car cigarette lighter adapter", "Photoelectric smoke detector",
                  "Nicotine patch 21mg step 1", "Condoms ultra thin 12pcs", "Kitchen chef knife 8 inch",
                  "Knife sharpener diamond", "Pepper grinder electric", "Dog training collar with shock",
                  "Nylon cable ties 100pcs", "Archery recurve bow 30lbs", "Long lasting lipstick matte",
                  "Cool mist humidifier", "Stunning sequin dress", "Bow shackle 316 stainless"]:
        v = scanner.scan(listing(title, target_markets=["US"]), as_of=AS_OF)
        assert v.decision == "pass", (title, [(f.rule, [e.text for e in f.evidence]) for f in v.findings])


def test_review_rule_does_not_block(scanner):
    from scanner.detectors.base import Hit
    from scanner.policy import ListingSignals, verdict
    rs = scanner.rulesets
    ls = ListingSignals(category="")
    review_rule = next(r for r in rs.rules.values() if r.outcome == "review")
    ls.hits.append(Hit(review_rule.id, 0.7, "needs a person", []))
    v = verdict("L", None, ls, rs, dt.date(2022, 2, 1), "none")
    assert v.decision == "review" and v.blocked_markets == [] and v.points == review_rule.points


def test_restricted_market_only_when_targeted(scanner):
    from scanner.detectors.base import Hit
    from scanner.policy import ListingSignals, verdict
    rs = scanner.rulesets
    rule = next(r for r in rs.rules.values() if r.outcome == "restrict" and r.markets == ["US"])
    ls = ListingSignals(category="")
    ls.hits.append(Hit(rule.id, 0.9, "r", []))
    day = max(dt.date(2022, 2, 1), rule.effective or dt.date(2022, 2, 1))
    assert verdict("L", ["DE"], ls, rs, day, "none").decision == "pass"
    hit = verdict("L", ["US", "CA"], ls, rs, day, "none")
    assert hit.decision == "restrict" and hit.blocked_markets == ["US"]


def test_misspelt_word_inside_a_multiword_term(scanner):
    for title, expected in [("Male enhancemnt capsules", "Male enhancemnt"), ("Brass knucles set", "Brass knucles"),
                            ("Expandible baton 21in", "Expandible baton"), ("Peper spray 20ml", "Peper spray")]:
        v = scanner.scan(listing(title), as_of=AS_OF)
        assert v.decision == "block", title
        assert any(e.text == expected and e.detector == "fuzzy" for f in v.findings for e in f.evidence), title
    # the other words must be there, spelt right: a lone near-word is not enough
    assert scanner.scan(listing("Enhancment of photos, brass fittings"), as_of=AS_OF).decision == "pass"


def test_underscores_separate_words(scanner):
    assert scanner.scan(listing("premium e_liquid 30ml"), as_of=AS_OF).decision == "block"


_TERMS = ["crossbow", "sildenafil", "e-liquid", "handcuffs", "stun gun", "brass knuckles", "西地那非", "арбалет"]
_NOISE = st.text(alphabet=st.sampled_from(list("ab ci\u200b\u00ad<>&;é.-_1@\u0430ＡＢ\n")), max_size=12)


def _obfuscate(term: str, how: int) -> str:
    if how == 1:
        return " ".join(term)
    if how == 2:
        return term.replace("i", "1").replace("o", "0")
    if how == 3:
        return "\u200b".join(term)
    if how == 4:
        return term.upper().replace("A", "\u0410")
    return term


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_NOISE, st.sampled_from(_TERMS), st.integers(0, 4), _NOISE, st.booleans())
def test_evidence_always_quotes_the_original(scanner, before, term, how, after, html):
    value = before + _obfuscate(term, how) + after
    data = listing(value, description=("<p>" + value + "</p>") if html else value,
                   attributes={"Note": value}, keywords=[value], image_texts=[value])
    v = scanner.scan(data, as_of=AS_OF)
    for f in v.findings:
        for e in f.evidence:
            field = e.field
            if field.startswith("attributes."):
                original = data["attributes"][field.split(".", 1)[1]]
            elif field.startswith(("keywords[", "image_texts[")):
                name, index = field[:-1].split("[")
                original = data[name][int(index)]
            else:
                original = data[field]
            assert original[e.start:e.end] == e.text, (field, e)


def test_leetspeak_with_symbols_and_measurements(scanner):
    for title, expected in [("$ildenafil 100 tabs", "$ildenafil"), ("cheap v!agra!", "v!agra")]:
        v = scanner.scan(listing(title), as_of=AS_OF)
        assert v.decision == "block", title
        assert expected in [e.text for f in v.findings for e in f.evidence], title
    # digits that are quantities or model numbers are never read as letters
    assert scanner.scan(listing("USB cable 5V 2A ISO9001 certified, 1080p, IPX7"), as_of=AS_OF).decision == "pass"


def test_batches_give_the_verdicts_of_single_scans(scanner):
    """scan_many searches a batch's words together; every verdict must equal the one-listing scan."""
    import sys
    from dataclasses import asdict
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from generate import generate
    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in generate(300, seed=11)]
    rows += [listing(t) for t in ["Sildenafli citrate 100mg", "male enhancment pills", "brass knucles",
                                  "crossbow 175lbs", "Crossbody bag women leather"]]
    batched = list(scanner.scan_many(rows, as_of=AS_OF))
    single = [scanner.scan(r, as_of=AS_OF) for r in rows]
    assert [asdict(v) for v in batched] == [asdict(v) for v in single]
    assert sum(v.decision != "pass" for v in single) >= 10
    assert any(e.detector == "fuzzy" for v in single for f in v.findings for e in f.evidence)


def test_keyword_batches_find_what_single_texts_give(scanner):
    from scanner.text import Doc
    texts = ["S.i.l.d.e.n.a.f.i.l 50mg", "v1agra and cr0ssb0w", "plain kitchen towel", "电子烟油 10ml",
             "нож-бабочка", "", "e-juice\x00vape", "ISO9001 60x40x35 cm", "s i l d e n a f i l citrate"]
    docs = [Doc(t, t) for t in texts]
    key = lambda ms: [(m.ref.rule, m.ref.term, m.start, m.end, m.obfuscated) for m in ms]
    batched = scanner.keywords.find_many(docs)
    assert [key(ms) for ms in batched] == [key(scanner.keywords.find(d)) for d in docs]
    assert sum(map(len, batched)) >= 6
    ascii_only = [d for d in docs if d.text.isascii()]
    assert [key(ms) for ms in scanner.keywords.find_many(ascii_only)] == \
        [key(scanner.keywords.find(d)) for d in ascii_only]


def test_a_blade_measured_within_the_limits_is_not_sent_to_review_by_the_classifier(scanner):
    """The classifier is a safety net where the words found nothing; a knife whose blade the rule
    measured and found within the limits was decided, not missed."""
    from scanner.detectors.base import Signal
    from scanner.policy import ListingSignals, verdict
    rs = scanner.rulesets
    family = rs.families["controlled_instrument"]
    rule = next(r for r in family.rules if r.measurement is not None)
    m = rule.measurement
    p = (family.ml.review + 1.0) / 2     # above the review threshold, below certainty

    def signals(length_mm=None, exempt=False):
        ls = ListingSignals(category="")
        ls.by_rule[rule.id].append(Signal(rule.id, "title", 0, 5, "knife", 0.0, "keyword", "knife", m.applies_to[0]))
        if exempt:
            ls.by_rule[rule.id].append(Signal(rule.id, "title", 6, 10, "chef", 0.0, "keyword", "chef", m.exempt[0]))
        if length_mm is not None:
            ls.patterns[m.length_pattern].append(Signal("", "title", 11, 16, "60 mm", 1.0, "pattern",
                                                        m.length_pattern, m.length_pattern, length_mm))
        ls.ml["controlled_instrument"] = (p, [])
        return ls

    day = dt.date(2022, 2, 1)
    assert verdict("L", None, signals(), rs, day, "v").decision == "review"          # nothing measured: a person looks
    assert verdict("L", None, signals(length_mm=60), rs, day, "v").decision == "pass"
    assert verdict("L", None, signals(exempt=True), rs, day, "v").decision == "pass"
    longest = max(t["blade_longer_than_mm"] for t in m.thresholds)
    assert verdict("L", None, signals(length_mm=longest + 10), rs, day, "v").decision == "block"


@pytest.mark.parametrize("name, value, rule, quoted", [
    ("Tadalafil per tablet", "20 mg", "sexual_health/pde5_ingredient", "Tadalafil"),
    ("Crossbow limb", "carbon laminate", "controlled_instrument/crossbow", "Crossbow"),
])
def test_attribute_names_are_searched_and_quoted(scanner, name, value, rule, quoted):
    data = listing("Gift box for him", attributes={"Colour": "black", name: value})
    v = scanner.scan(data, as_of=AS_OF)
    found = {f.rule: f for f in v.findings}
    assert rule in found and v.decision == "block"
    on_name = [e for e in found[rule].evidence if e.field == f"attribute_names.{name}"]
    assert on_name and all(name[e.start:e.end] == e.text for e in on_name)
    assert quoted in {e.text for e in on_name}


def test_ordinary_attribute_names_pass(scanner):
    data = listing("Cotton crew-neck T-shirt", attributes={"Material": "100% cotton", "Size": "M",
                                                            "Blade Length": "n/a", "Nicotine free": "yes"})
    assert scanner.scan(data, as_of=AS_OF).decision == "pass"


@pytest.mark.parametrize("value, decision", [("No", "pass"), (" NONE ", "pass"), ("无", "pass"),
                                             ("Nein", "pass"), ("Yes, foldable", "block"), ("detachable", "block")])
def test_a_value_that_denies_its_attribute_name_voids_the_name(scanner, value, decision):
    data = listing("Hunting slingshot, stainless steel frame", attributes={"Wrist Brace": value, "Colour": "black"})
    assert scanner.scan(data, as_of=AS_OF).decision == decision


def test_a_denial_voids_only_its_own_name(scanner):
    data = listing("Hunting slingshot, stainless steel frame", attributes={"Wrist Brace": "foldable", "Laser": "No"})
    v = scanner.scan(data, as_of=AS_OF)
    assert v.decision == "block"
    assert any(e.field == "attribute_names.Wrist Brace" for f in v.findings for e in f.evidence)


def test_denials_are_data(tmp_path):
    rulesets = tmp_path / "rulesets"
    shutil.copytree(Scanner.load().rulesets.directory, rulesets)
    (rulesets / "attributes.yaml").unlink()
    data = listing("Hunting slingshot, stainless steel frame", attributes={"Wrist Brace": "No"})
    assert Scanner.load(rulesets_dir=rulesets).scan(data, as_of=AS_OF).decision == "block"


def test_pieces_of_a_word_inside_longer_evidence_are_left_out(scanner):
    tada = scanner.scan(listing("Tadalafil 20mg tablets"), as_of=AS_OF)
    texts = [e.text for f in tada.findings for e in f.evidence]
    assert "Tadalafil" in texts and not any(t in texts for t in ("dalafil", "adalafil", "alafil"))
    bow = scanner.scan(listing("Compound crossbow 175 lbs"), as_of=AS_OF)
    texts = [e.text for f in bow.findings for e in f.evidence]
    assert "crossbow" in texts or "Compound crossbow" in texts
    liquid = scanner.scan(listing("电子烟油 多口味 30ml"), as_of=AS_OF)   # no spaces: a term in a term stays
    texts = [e.text for f in liquid.findings for e in f.evidence]
    assert "电子烟油" in texts and "烟油" in texts


def test_a_corroborated_classifier_block_names_the_rule_its_support_belongs_to(scanner):
    """A classifier sure of a controlled instrument, corroborated by a restraint term too weak to fire
    alone, blocks under the restraint rule, not the family's default rule."""
    from scanner.detectors.base import Signal
    from scanner.policy import ListingSignals, verdict
    rs = scanner.rulesets
    family = rs.families["controlled_instrument"]
    assert family.ml.rule_from_support
    default = next(r for r in family.rules if r.ml_family_rule)
    def threshold(r):
        return r.threshold if r.threshold is not None else family.defaults.threshold

    def weak(r):   # a corroborating group too light to fire its rule alone
        return next((g for g in r.terms if 0 < g.weight < threshold(r) and g.corroborates), None)

    other = next(r for r in family.rules if r is not default and weak(r))
    group = weak(other)

    def ml_verdict(support_rule, support_group):
        ls = ListingSignals(category="")
        ls.by_rule[support_rule.id].append(Signal(support_rule.id, "title", 0, 5, "cuffs", support_group.weight,
                                                  "keyword", "cuffs", support_group.name))
        ls.ml["controlled_instrument"] = (family.ml.block, [])
        return verdict("L", None, ls, rs, dt.date(2022, 2, 1), "none")

    assert [f.rule for f in ml_verdict(other, group).findings] == [other.id]
    assert [f.rule for f in ml_verdict(default, weak(default)).findings] == [default.id]


def test_title_items_split_at_their_separators_or_not_at_all():
    from scanner.policy import _item_starts
    title = "Trauma shears, 7.5 inch fixed blade AND sheath"
    assert _item_starts(title, (",", " and ")) == [14, 40]   # case-insensitive, at each separator's end
    assert _item_starts(title, ()) == []                     # no separators: one item, not one per character
