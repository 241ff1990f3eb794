import shutil
from pathlib import Path

import pytest

from scanner.engine import Scanner
from scanner.rulesets import DEFAULT_DIR, RulesetError, load_rulesets
from scanner.ruletest import run_examples

MIN_EXAMPLES = 8


@pytest.fixture(scope="module")
def scanner():
    return Scanner.load()


def test_bundled_rulesets_load_with_a_version():
    rs = load_rulesets()
    assert rs.version.startswith("2022.01.15-1+")
    assert len(rs.markets.groups["EU"]) == 27
    for rule_id in ["e_cigarette/e_liquid", "e_cigarette/outside_category", "sexual_health/pde5_ingredient",
                    "sexual_health/enhancement_claim", "controlled_instrument/restraint",
                    "controlled_instrument/knife", "controlled_instrument/severe",
                    "controlled_instrument/crossbow", "controlled_instrument/general"]:
        assert rule_id in rs.rules


def test_every_rule_has_enough_examples():
    for rule in load_rulesets().rules.values():
        assert len(rule.examples.fire) >= MIN_EXAMPLES, rule.id
        assert len(rule.examples.pass_) >= MIN_EXAMPLES, rule.id


def test_core_terms_exist_in_every_listed_language():
    needed = ["en", "zh", "es", "pt", "fr", "de", "ru", "ar", "ja", "ko", "tr", "vi", "th", "id"]
    rs = load_rulesets()
    for rule_id in ["sexual_health/pde5_ingredient", "controlled_instrument/crossbow", "controlled_instrument/severe",
                    "controlled_instrument/knife", "controlled_instrument/restraint", "e_cigarette/e_liquid"]:
        core = rs.rules[rule_id].terms[0]
        missing = [lang for lang in needed if not getattr(core, lang)]
        assert not missing, (rule_id, missing)


def test_every_example_behaves(scanner):
    failures = [r for r in run_examples(scanner) if not r.ok and not r.rule.startswith("medical_device/")]
    assert not failures, [(f.rule, f.expect, f.index, f.message) for f in failures]


def test_version_changes_with_content(tmp_path):
    d = tmp_path / "rs"
    shutil.copytree(DEFAULT_DIR, d)
    before = load_rulesets(d).version
    with (d / "sexual_health.yaml").open("a") as f:
        f.write("\n# a comment changes the hash\n")
    assert load_rulesets(d).version != before


def _broken(tmp_path: Path, old: str, new: str, name: str = "controlled_instruments.yaml") -> Path:
    d = tmp_path / "rs"
    shutil.copytree(DEFAULT_DIR, d)
    p = d / name
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))
    return d


def test_invalid_field_is_named_with_file_and_rule(tmp_path):
    d = _broken(tmp_path, "    grade: B\n    points: 2", "    grade: C\n    points: 2")
    with pytest.raises(RulesetError) as err:
        load_rulesets(d)
    msg = str(err.value)
    assert "controlled_instruments.yaml" in msg and "controlled_instrument/general" in msg and "grade" in msg


def test_unknown_field_is_refused(tmp_path):
    d = _broken(tmp_path, "    outcome: block\n    grade: A\n    points: 6\n    markets: [\"*\"]\n"
                          "    ml_family_rule: false\n    reason: Instruments",
                "    outcome: block\n    grade: A\n    points: 6\n    markets: [\"*\"]\n"
                "    ml_family_rule: false\n    colour: red\n    reason: Instruments")
    with pytest.raises(RulesetError, match="colour"):
        load_rulesets(d)


def test_rule_without_examples_is_refused(tmp_path):
    d = _broken(tmp_path, "    examples:\n      fire:\n        - {title: \"Police handcuffs",
                "    examples:\n      fire: []\n      old:\n        - {title: \"Police handcuffs")
    with pytest.raises(RulesetError):
        load_rulesets(d)


def test_broken_yaml_is_refused(tmp_path):
    d = _broken(tmp_path, "family: sexual_health", "family: [sexual_health", "sexual_health.yaml")
    with pytest.raises(RulesetError, match="sexual_health.yaml"):
        load_rulesets(d)


def test_invalid_attribute_reading_is_named(tmp_path):
    d = _broken(tmp_path, "denials:\n", "denials:\n  xx: [nope]\n", "attributes.yaml")
    with pytest.raises(RulesetError) as err:
        load_rulesets(d)
    assert "attributes.yaml" in str(err.value) and "xx" in str(err.value)


def test_points_are_data_not_code(tmp_path):
    d = _broken(tmp_path, "    grade: B\n    points: 2", "    grade: B\n    points: 5")
    v = Scanner.load(d).scan({"listing_id": "x", "merchant_id": "m", "title": "Brass knuckles set"},
                             as_of="2022-02-01")
    assert v.points == 5 and v.findings[0].rule == "controlled_instrument/general"
