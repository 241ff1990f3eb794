"""The medical stage end to end: the ruleset's own examples, merchant-readable reasons,
evidence offsets, the FDA table, and verification against a local openFDA server."""
from __future__ import annotations

import datetime as dt
import time

import pytest
import yaml

from scanner.listing import parse_listing
from scanner.medical.assess import MedicalAssessor
from scanner.medical.certificates import Verifier
from scanner.medical.http import HttpSettings
from scanner.medical.openfda import OpenFdaClient
from scanner.medical.ruleset import MedicalConfig
from scanner.rulesets import RulesetError, load_rulesets

from .conftest import FIXTURES, REPO

AS_OF = dt.date(2022, 3, 1)


@pytest.fixture(scope="module")
def assessor(family, rulesets):
    return MedicalAssessor(family, markets=rulesets.markets)


@pytest.fixture(scope="module")
def assessor_fda(family, rulesets, fda_rows):
    return MedicalAssessor(family, fda_rows=fda_rows, markets=rulesets.markets)


def fired(assessor, rulesets, listing, certs=(), as_of=AS_OF) -> set[str]:
    """Rules that fire after the policy's effective-date and target-market filters (from the YAML)."""
    listing = parse_listing(listing)
    targets = rulesets.markets.expand(listing.target_markets) if listing.target_markets else None
    out = set()
    for hit in assessor.assess(listing, list(certs), as_of):
        rule = rulesets.rules[hit.rule]
        if rule.effective and as_of < rule.effective:
            continue
        if targets is not None and "*" not in rule.markets and not (rulesets.markets.expand(rule.markets) & targets):
            continue
        out.add(hit.rule)
    return out


def _examples():
    data = yaml.safe_load((REPO / "rulesets" / "medical_devices.yaml").read_text(encoding="utf-8"))
    for rule in data["rules"]:
        for expect in ("fire", "pass"):
            for i, ex in enumerate(rule["examples"][expect]):
                yield pytest.param(rule["id"], expect, ex, id=f"{rule['id'].split('/')[1]}-{expect}{i}")


@pytest.mark.parametrize("use_fda", [False, True], ids=["ruleset-table", "fda-table"])
@pytest.mark.parametrize("rule_id, expect, example", list(_examples()))
def test_ruleset_examples(assessor, assessor_fda, rulesets, rule_id, expect, example, use_fda):
    a = assessor_fda if use_fda else assessor
    listing = {k: v for k, v in example.items() if k not in ("certificates", "as_of", "note", "span")}
    listing.update(listing_id="EX", merchant_id="EXAMPLE")
    as_of = example["as_of"] if isinstance(example["as_of"], dt.date) else dt.date.fromisoformat(example["as_of"])
    got = fired(a, rulesets, listing, example.get("certificates", []), as_of)
    assert (rule_id in got) == (expect == "fire"), f"{expect}: got {sorted(got)} ({example.get('note', '')})"


def test_every_rule_has_eight_examples_each_way(family):
    for rule in family.rules:
        assert len(rule.examples.fire) >= 8 and len(rule.examples.pass_) >= 8, rule.id


LENS = {"listing_id": "L-1", "merchant_id": "M-1", "title": "Colored Contact Lenses Natural Brown 14.2mm",
        "target_markets": ["US"]}


def cert(**kw):
    base = {"certificate_id": kw.get("number", "C"), "merchant_id": "M-1", "status": "approved",
            "scope": "soft contact lenses"}
    return {**base, **kw}


CN = cert(kind="nmpa_production_license", number="浙食药监械生产许20150001号", device_classes=[3])
REG21 = cert(kind="fda_establishment_registration", number="3012345678", registration_year=2021)
REG22 = cert(kind="fda_establishment_registration", number="3012345678", registration_year=2022)
K = cert(kind="fda_510k", number="K201234", device_name="Lenses, Soft Contact, Daily Wear")
K_TRADE = cert(kind="fda_510k", number="K201234", device_name="AquaView Daily 1-Day")


def test_expired_registration_reason_is_spelled_out(assessor):
    hits = assessor.assess(parse_listing(LENS), [CN, REG21, K], AS_OF)
    assert [h.rule for h in hits] == ["medical_device/class3_no_fda"]
    assert "FDA establishment registration 3012345678 is for 2021 and expired on 2021-12-31" in hits[0].reason
    assert "class 3" in hits[0].reason
    kinds = {e.detector for e in hits[0].evidence}
    assert {"keyword", "certificate"} <= kinds


def test_unqualified_reason_names_every_gap(assessor):
    certs = [cert(kind="nmpa_business_license", number="B-1", device_classes=[3]),
             cert(kind="authorization", number="AUTH-1"), REG22,
             cert(kind="fda_510k", number="K201236", device_name="Oximeter")]
    hits = assessor.assess(parse_listing(LENS), certs, AS_OF)
    assert [h.rule for h in hits] == ["medical_device/class3_unqualified"]
    reason = hits[0].reason
    assert "as a trading company" in reason and "production licence" in reason
    assert '"Oximeter", which does not match contact lenses' in reason


def test_ce_reasons(assessor):
    listing = {**LENS, "target_markets": ["DE"]}
    old = cert(kind="ce_certificate", number="CE-9", valid_from="2017-01-01", valid_until="2021-12-31")
    hits = {h.rule: h for h in assessor.assess(parse_listing(listing), [CN, REG22, K, old], AS_OF)}
    assert set(hits) == {"medical_device/no_ce"}
    assert "CE certificate CE-9 expired on 2021-12-31" in hits["medical_device/no_ce"].reason


def test_evidence_points_at_original_text(assessor):
    title = "Cоlоred Cоntact Lеnses \u200bBig Eye 国械注准２０１７３１６００８９"  # Cyrillic o/e, zero-width, full-width
    listing = parse_listing({"listing_id": "L-2", "merchant_id": "M-9", "title": title,
                             "description": "<p>Registration 国械注准20173160089</p>"})
    hits = assessor.assess(listing, [], AS_OF)
    assert {h.rule for h in hits} == {"medical_device/class3_unqualified", "medical_device/no_ce"}
    for h in hits:
        for e in h.evidence:
            value = {"title": listing.title, "description": listing.description}.get(e.field)
            if value is not None:
                assert value[e.start:e.end] == e.text
    texts = [e.text for e in hits[0].evidence]
    assert "国械注准２０１７３１６００８９" in texts


def test_not_a_device_costs_little_and_fires_nothing(assessor):
    listing = parse_listing({"listing_id": "L-3", "merchant_id": "M-1",
                             "title": "Stainless Steel Water Bottle 750ml Double Wall Vacuum Insulated",
                             "description": "Keeps drinks cold for 24 hours. " * 20})
    assert assessor.assess(listing, [], AS_OF) == []
    t0 = time.perf_counter()
    for _ in range(200):
        assessor.assess(listing, [], AS_OF)
    per = (time.perf_counter() - t0) / 200
    assert per < 0.002, per


def test_fda_table_matches_trade_name_through_product_code(assessor, assessor_fda, rulesets):
    certs = [CN, REG22, cert(kind="fda_510k", number="K201234", device_name="Lenses, Soft Contact, Extended Wear")]
    # Without a table the 510(k)'s FDA name still matches the ruleset's FDA names for the type
    assert fired(assessor_fda, rulesets, LENS, certs) == set()
    # a trade name alone does not match; with the product code it does
    assert "medical_device/class3_no_fda" in fired(assessor, rulesets, LENS, [CN, REG22, K_TRADE])
    with_code = {**K_TRADE, "product_code": "LPL"}
    assert fired(assessor, rulesets, LENS, [CN, REG22, with_code]) == set()


def test_fda_table_gives_class_and_lookup_evidence(assessor_fda):
    listing = parse_listing({"listing_id": "L-4", "merchant_id": "M-1", "target_markets": ["US"],
                             "title": "Coronary Drug-Eluting Stent Sirolimus 3.0mm",
                             "category": "Health & Medical > Medical Devices > Hospital Equipment"})
    ident = assessor_fda.identify(listing)
    assert ident.device_class == 3
    assert any(m.product_code == "NIQ" for m in ident.fda)
    assert any(e.detector == "lookup" and "NIQ" in e.text for e in ident.evidence)


def test_everyday_goods_only_with_a_claim(assessor):
    plain = parse_listing({"listing_id": "L-5", "merchant_id": "M-1", "title": "Sonic Electric Toothbrush 5 Modes"})
    claim = parse_listing({"listing_id": "L-6", "merchant_id": "M-1",
                           "title": "Sonic Electric Toothbrush 5 Modes Treats Gum Disease and Periodontitis"})
    assert assessor.assess(plain, [], AS_OF) == []
    assert [h.rule for h in assessor.assess(claim, [], AS_OF)] == ["medical_device/no_ce"]


def test_a_denied_medical_purpose_is_no_claim(assessor):
    """A claim phrase inside a denial ("not for medical use") says the opposite; elsewhere it still counts."""
    def rules(title, **extra):
        listing = parse_listing({"listing_id": "L-8", "merchant_id": "M-1", "title": title,
                                 "target_markets": ["DE"], **extra})
        return [h.rule for h in assessor.assess(listing, [], AS_OF)]

    assert rules("Electric Foot Warmer Pad, Not For Medical Use, USB Powered") == []
    assert rules("Hand Warmer Heat Pack 非医用 暖宝宝") == []
    assert rules("Knee Sleeve for Sports, not a medical device") == []
    assert rules("Knee Brace for Medical Use, relieves arthritis pain") == ["medical_device/no_ce"]
    # the denial covers its own words only: a claim elsewhere in the listing still counts
    assert rules("Heating Pad not for medical use", description="Used to treat arthritis in the knee.") \
        == ["medical_device/no_ce"]


def test_a_type_is_voided_by_its_unless_words_in_the_title_only(assessor):
    """"Contact lens case" says what the product is; "packaging box: 1 pc per box" in a
    description is how a real device ships."""
    def rules(title, **extra):
        listing = parse_listing({"listing_id": "L-10", "merchant_id": "M-1", "title": title,
                                 "target_markets": ["DE"], **extra})
        return [h.rule for h in assessor.assess(listing, [], AS_OF)]

    assert rules("Contact lens case travel kit, 6 colours") == []
    assert "medical_device/class3_unqualified" in rules(
        "Colored contact lenses yearly 14.2mm", description="Packaging box with your logo. Paperback user guide.")


def test_device_names_are_spelt_and_bounded_as_rule_terms(assessor):
    """Device names get the rule terms' spellings (hyphenated, joined) and their language's word
    boundary: none in Thai (no spaces between words), a prefix in Russian (inflection)."""
    def rules(title):
        listing = parse_listing({"listing_id": "L-9", "merchant_id": "M-1", "title": title, "target_markets": ["DE"]})
        return {h.rule for h in assessor.assess(listing, [], AS_OF)}

    assert "medical_device/no_ce" in rules("ขายส่งถุงยางอนามัยบางพิเศษ 12ชิ้น")     # condoms, run into the next words
    assert "medical_device/class3_unqualified" in rules("Contact-lenses monthly, 2 pcs")
    assert "medical_device/no_ce" in rules("Пульсоксиметры на палец")              # oximeters, inflected
    assert rules("Contactless card reader, 2 pcs") == set()                        # a longer word stays itself


def test_claim_on_a_medicine_is_not_a_device(assessor):
    pills = parse_listing({"listing_id": "L-7", "merchant_id": "M-1", "title": "Herbal Capsules Relieve Pain Fast",
                           "category": "Health & Medical > Medicine"})
    assert assessor.assess(pills, [], AS_OF) == []


def test_certificates_of_other_merchants_do_not_count(assessor):
    other = [{**c, "merchant_id": "M-2"} for c in (CN, REG22, K)]
    assert [h.rule for h in assessor.assess(parse_listing(LENS), other, AS_OF)] == ["medical_device/class3_unqualified"]


# -- verification against a local openFDA ----------------------------------------------------

FAST = HttpSettings(connect_timeout=1.0, read_timeout=0.5, retries=1, backoff=0.05)


def verified_assessor(family, rulesets, server):
    client = OpenFdaClient(server.url, settings=FAST)
    return MedicalAssessor(family, verifier=Verifier(fda=client), markets=rulesets.markets)


def test_verification_failure_goes_to_review_never_pass(family, rulesets, server):
    server.on("/device/registrationlisting.json", (500, {}, b"down"))
    server.on("/device/510k.json", (200, {}, (FIXTURES / "openfda_510k_K201234.json").read_bytes()))
    a = verified_assessor(family, rulesets, server)
    hits = a.assess(parse_listing(LENS), [CN, REG22, K], AS_OF)
    assert [h.rule for h in hits] == ["medical_device/unverified"]
    assert "unverified:" in hits[0].reason and "3012345678" in hits[0].reason
    assert rulesets.rules["medical_device/unverified"].outcome == "review"


def test_verified_registration_year_overrides_the_claim(family, rulesets, server):
    server.on("/device/registrationlisting.json", (200, {}, (FIXTURES / "openfda_registration_2021.json").read_bytes()))
    server.on("/device/510k.json", (200, {}, (FIXTURES / "openfda_510k_K201234.json").read_bytes()))
    a = verified_assessor(family, rulesets, server)
    hits = a.assess(parse_listing(LENS), [CN, REG22, K_TRADE], AS_OF)
    assert [h.rule for h in hits] == ["medical_device/class3_no_fda"]
    assert "is for 2021 and expired on 2021-12-31" in hits[0].reason
    assert 'FDA lists' in hits[0].reason


def test_verified_510k_product_code_matches_a_trade_name(family, rulesets, server):
    reg = (FIXTURES / "openfda_registration_2021.json").read_text().replace('"2021"', '"2022"')
    server.on("/device/registrationlisting.json", (200, {}, reg.encode()))
    server.on("/device/510k.json", (200, {}, (FIXTURES / "openfda_510k_K201234.json").read_bytes()))
    a = verified_assessor(family, rulesets, server)
    assert a.assess(parse_listing(LENS), [CN, REG22, K_TRADE], AS_OF) == []


def test_unknown_510k_at_fda_is_unverified(family, rulesets, server):
    server.on("/device/registrationlisting.json",
              (200, {}, (FIXTURES / "openfda_registration_2021.json").read_text().replace('"2021"', '"2022"').encode()))
    a = verified_assessor(family, rulesets, server)      # 510(k) path answers 404
    hits = a.assess(parse_listing(LENS), [CN, REG22, K], AS_OF)
    assert [h.rule for h in hits] == ["medical_device/unverified"]
    assert "no 510k record K201234" in hits[0].reason


# -- ruleset validation ------------------------------------------------------------------------

def test_bad_section_is_named(tmp_path):
    text = (REPO / "rulesets" / "medical_devices.yaml").read_text(encoding="utf-8")
    (tmp_path / "markets.yaml").write_text((REPO / "rulesets" / "markets.yaml").read_text(encoding="utf-8"))
    (tmp_path / "medical_devices.yaml").write_text(text.replace("    nmpa_class: 3\n", "    nmpa_class: 5\n", 1),
                                                   encoding="utf-8")
    with pytest.raises(RulesetError) as err:
        load_rulesets(tmp_path)
    assert "medical_devices.yaml" in str(err.value)
    assert "'device_types'" in str(err.value) and "nmpa_class" in str(err.value)


def test_unknown_category_device_type_is_refused(family):
    extra = dict(family.extra)
    extra["categories"] = [{"path": "X > Y", "device_type": "warp_drives"}]
    with pytest.raises(ValueError, match="categories.*warp_drives"):
        MedicalConfig.from_extra(extra)
