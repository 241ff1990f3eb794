"""Which label a blade length reads: the label before a number binds more tightly than one after
it, and no label reaches across a sentence end or a field, list, line or table-cell break; text in
scripts without spaces ("刃长24cm") is read like spaced text. POLICY.md §3."""
import pytest

from scanner import Scanner
from scanner.text import normalise

AS_OF = "2022-02-01"
FAMILY = {"controlled_instrument"}


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return Scanner.load(models_dir=tmp_path_factory.mktemp("no-models"))


def blade_lengths(scanner, text, key=None, html=False):
    """(mm, evidence text) of every blade length read in `text`; evidence must quote the original."""
    doc = normalise(text, html=html)
    found = [m for m in scanner.patterns.find(doc, FAMILY, key) if m.name == "blade_length"]
    for m in found:
        assert text[m.start:m.end] == m.text
    return [(round(m.value), m.text) for m in found]


@pytest.mark.parametrize("text, expected", [
    # a label after the number (overall) must not beat the label before it (blade)
    ("Blade length: 240mm. Overall: 360mm.", [(240, "240mm")]),
    ("Overall length 360 mm, blade 240 mm", [(240, "240 mm")]),
    ("刀刃长度：24cm，总长：36cm", [(240, "24cm")]),
    # in scripts without spaces a label is read inside the run of characters that holds it
    ("ナイフ 刃渡りおよそ24cm 全長およそ36cm", [(240, "24cm")]),
    ("มีดพับ ใบมีดยาวประมาณ 25 ซม.", [(250, "25 ซม")]),
    ("ナイフ 刃渡り 全長およそ36cm", []),      # the nearest label, inside its run, is the overall length
    ("Klingenlänge 24 cm; Gesamtlänge 36 cm", [(240, "24 cm")]),
    ("Overall: 360mm | Blade: 240mm", [(240, "240mm")]),
    ("Overall 360 mm\nBlade 240 mm", [(240, "240 mm")]),
    ("Blade approx. 24 cm", [(240, "24 cm")]),          # an abbreviation before a number ends no sentence
    # a label after the number, when none stands before it in its segment
    ("12cm blade, 30cm overall", [(120, "12cm")]),
    ("Fixed knife, clip point, 17cm blade", [(170, "17cm")]),
    # a segment that holds only the label, right before the number's (spec lists and tables)
    ("Blade length | 24 cm | Overall | 36 cm", [(240, "24 cm")]),
    # glued to the number in scripts written without spaces
    ("刃长24cm", [(240, "24cm")]),
    ("刃长：24cm", [(240, "24cm")]),
    ("刀长24厘米", [(240, "24厘米")]),
    ("刀刃长度24cm总长36cm", [(240, "24cm")]),
    ("刃渡り15cm、全長28cm", [(150, "15cm")]),
    ("칼날24cm", [(240, "24cm")]),
])
def test_the_blade_label_binds_to_its_number(scanner, text, expected):
    assert blade_lengths(scanner, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Overall length: 300mm. Blade: 120mm.", [(120, "120mm")]),
    ("Total 30cm, blade 12cm", [(120, "12cm")]),
    ("总长30cm，刃长12cm", [(120, "12cm")]),
    ("blade 20cm, handle 12cm", [(200, "20cm")]),
    ("12cm blade | 30cm", [(120, "12cm")]),           # "blade" closes its own segment
    ("Blade length: 12 cm. 30 cm overall", [(120, "12 cm")]),
    ("Blade\n\nColour: black. Size 30 cm", []),        # labels do not reach across breaks
    ("Overall 36 cm\n24 cm", []),                     # nor does a segment that holds a number lend its label
    ("不锈钢24cm", []),                                # CJK next to a number is no label by itself
])
def test_other_lengths_are_not_read_as_the_blade(scanner, text, expected):
    assert blade_lengths(scanner, text) == expected


def test_html_breaks_end_a_labels_reach(scanner):
    table = ("<table><tr><td>Blade length</td><td>24 cm</td></tr>"
             "<tr><td>Overall length</td><td>36 cm</td></tr></table>")
    assert blade_lengths(scanner, table, html=True) == [(240, "24 cm")]
    assert blade_lengths(scanner, "<ul><li>Overall 36 cm</li><li>Blade 24 cm</li></ul>", html=True) == [(240, "24 cm")]
    assert blade_lengths(scanner, "Blade<br>Colour black 30 cm", html=True) == []
    assert blade_lengths(scanner, "Blade 24 cm<br>36 cm overall", html=True) == [(240, "24 cm")]


def test_an_attribute_name_is_the_label_before_its_value(scanner):
    assert blade_lengths(scanner, "24 cm, handle 12 cm", key="Blade Length") == [(240, "24 cm")]
    assert blade_lengths(scanner, "24 cm (overall 36 cm)", key="Blade Length") == [(240, "24 cm")]
    assert blade_lengths(scanner, "36 cm", key="Overall Length") == []


def test_an_attribute_name_may_give_the_unit_of_a_bare_number(scanner):
    assert blade_lengths(scanner, "225", key="Blade Length (mm)") == [(225, "225")]
    assert blade_lengths(scanner, "23.5", key="Blade Length (cm)") == [(235, "23.5")]
    assert blade_lengths(scanner, "9", key="Blade Length [inch]") == [(229, "9")]
    assert blade_lengths(scanner, "225", key="Blade Length (pcs)") == []   # not a length unit
    assert blade_lengths(scanner, "225", key="Blade Length") == []         # no unit at all
    assert blade_lengths(scanner, "225", key="Overall Length (mm)") == []  # the label still decides


def knife(scanner, title, description=None):
    data = {"listing_id": "L-1", "merchant_id": "M-1", "title": title}
    if description is not None:
        data["description"] = description
    v = scanner.scan(data, as_of=AS_OF)
    for f in v.findings:
        for e in f.evidence:
            assert data[e.field][e.start:e.end] == e.text
    return v, [f for f in v.findings if f.rule == "controlled_instrument/knife"]


@pytest.mark.parametrize("title, description, span", [
    ("Hunting knife", "Blade length: 240mm. Overall: 360mm.", "240mm"),
    ("Hunting knife", "Overall length 360 mm, blade 240 mm", "240 mm"),
    ("户外猎刀", "刀刃长度：24cm，总长：36cm", "24cm"),
    ("Jagdmesser feststehend", "Klingenlänge 24 cm; Gesamtlänge 36 cm", "24 cm"),
    ("户外直刀 刃长24cm", None, "24cm"),
    ("户外猎刀 刀长24厘米", None, "24厘米"),
    ("Hunting knife, clip point, blade 20cm, handle 12cm", None, "20cm"),   # pointed tip: over 150 mm
])
def test_long_blades_block(scanner, title, description, span):
    v, found = knife(scanner, title, description)
    assert v.decision == "block" and found
    assert span in [e.text for e in found[0].evidence if e.detector == "pattern"]


@pytest.mark.parametrize("title, description", [
    ("Hunting knife", "Overall length: 300mm. Blade: 120mm."),      # long overall, short blade
    ("Hunting knife 12cm blade, 30cm overall", None),
    ("户外猎刀", "刃长12cm，总长30cm"),
    ("Hunting knife, blade 20cm, handle 12cm", None),                # tip not given: 60°, needs over 220 mm
    ("Kitchen knife set, blade 20cm, handle 12cm", None),            # kitchen and chef knives pass
    ("Chef knife, blade 25cm, handle 12cm", None),
])
def test_short_blades_and_kitchen_knives_pass(scanner, title, description):
    v, found = knife(scanner, title, description)
    assert not found and v.decision == "pass"


@pytest.mark.parametrize("text, expected", [
    ("Blade length: 9-inch, clip point", [(229, "9-inch")]),     # a hyphen between number and unit
    ("刀刃长度 20-cm", [(200, "20-cm")]),
    ("Blade 6 - inch", [(152, "6 - inch")]),
])
def test_a_hyphen_may_join_number_and_unit(scanner, text, expected):
    assert blade_lengths(scanner, text) == expected


def test_a_chinese_tip_angle_and_a_saw_back_are_read(scanner):
    """"刀尖角度" labels a tip angle; a saw on the spine does not make a survival knife a tool."""
    def decision(title, description=""):
        return scanner.scan({"listing_id": "K", "merchant_id": "M", "title": title, "description": description},
                            as_of=AS_OF).decision

    assert decision("户外直刀 刃长20厘米 刀尖角度40度") == "block"            # 200 mm, tip under 60°
    assert decision("户外直刀 刃长20厘米 刀尖角度70度") == "pass"             # 200 mm, tip of 60° or more
    assert decision("Survival knife, 250mm blade, clip point", "Full tang with saw back.") == "block"
    assert decision("Folding saw, 250mm blade, for pruning") == "pass"


@pytest.mark.parametrize("text, expected", [
    # whole numbers with fractions, as US sellers write inches
    ("Blade: 6-1/4\" clip point", [(159, "6-1/4\"")]),
    ("blade length 6 1/8 in", [(156, "6 1/8 in")]),
    ("Blade 5 7/8 in, satin finish", [(149, "5 7/8 in")]),      # not "7/8 in" read as 7 inches
    ("blade 3/4 in thick", [(19, "3/4 in")]),
    ("Blade length 8 ½ inch", [(216, "8 ½ inch")]),             # NFKC reads "½" as "1⁄2"
    ("<table><tr><td>Blade Length</td><td>6-1/4\"</td></tr></table>", [(159, "6-1/4\"")]),
])
def test_blade_lengths_with_fractions(scanner, text, expected):
    assert blade_lengths(scanner, text, html=text.startswith("<")) == expected


@pytest.mark.parametrize("text, puffs", [("Disposable vape 5K puffs", 5000), ("DISPO 10k PUFFS mesh coil", 10000),
                                         ("disposable pod 12000 puffs", 12000), ("disposable 6 k puff", 6000)])
def test_puff_counts_in_thousands(scanner, text, puffs):
    doc = normalise(text)
    found = [m for m in scanner.patterns.find(doc, {"e_cigarette"}) if m.name == "puff_count"]
    assert [m.value for m in found] == [puffs]
    assert all(text[m.start:m.end] == m.text for m in found)
