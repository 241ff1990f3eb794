"""Signals + rules + as-of date + target markets → findings → verdict. Pure: no I/O, no globals.

A rule fires when the weights of its term groups (each counted once) and patterns reach
its threshold, its requirements hold, its category constraint holds, and, for blade
measurements, a threshold of its measurement table is met. The rule's YAML gives
everything else: outcome, grade, points, markets, effective date, reason.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from scanner.detectors.base import Hit, Signal
from scanner.listing import DECISION_ORDER, Evidence, Finding, Verdict
from scanner.rulesets import Family, Markets, Measurement, Rule, Rulesets
from scanner.text import word_char

_GRADE_ORDER = {"A": 2, "B": 1, None: 0}
_DETECTOR_ORDER = {"keyword": 0, "pattern": 1, "lookup": 2, "certificate": 3, "fuzzy": 4, "ml": 5}


@dataclass(slots=True)
class ListingSignals:
    """What the detectors found in one listing, by rule."""

    category: str                                   # normalised category path ("" when none)
    title: str = ""                                 # the original title (bundle items, see _exempt)
    by_rule: dict[str, list[Signal]] = field(default_factory=lambda: defaultdict(list))
    patterns: dict[str, list[Signal]] = field(default_factory=lambda: defaultdict(list))
    hits: list[Hit] = field(default_factory=list)   # rules decided by other stages (medical)
    ml: dict[str, tuple[float, list[Signal]]] = field(default_factory=dict)  # family -> (p, evidence)


def _under(category: str, prefixes: list[str]) -> bool:
    return any(category == p or category.startswith(p + " >") for p in prefixes)


@functools.lru_cache(maxsize=8192)  # category paths repeat across a catalogue and rules ask on every listing
def normal_path(path: str) -> str:
    return " > ".join(part.strip() for part in path.casefold().split(">"))


def _measurement(rule: Rule, groups: dict[str, Signal], signals: list[Signal], ls: ListingSignals) -> Signal | None:
    """The blade-length signal that crosses a threshold of the rule's measurement table."""
    m = rule.measurement
    patterns = ls.patterns
    if m is None or not _is_blade(m, groups) or _exempt(m, signals, ls.title):
        return None
    lengths = _lengths(m, patterns)
    if not lengths:
        return None
    angles = [s.value for s in patterns.get(m.angle_pattern, []) if s.value is not None]
    if angles:
        angle = min(angles)
    elif any(g in groups for g in m.pointed_tip_groups):
        angle = m.pointed_tip_angle
    elif any(g in groups for g in m.rounded_tip_groups):
        angle = m.rounded_tip_angle
    else:
        angle = m.unknown_tip_angle
    longest = max(lengths, key=lambda s: s.value)
    for t in m.thresholds:
        if "tip_angle_below" in t and not angle < t["tip_angle_below"]:
            continue
        if "tip_angle_at_least" in t and not angle >= t["tip_angle_at_least"]:
            continue
        if longest.value > t["blade_longer_than_mm"]:
            return longest
    return None


def _is_blade(m: Measurement, groups) -> bool:
    return any(g in groups for g in m.applies_to)


def _exempt(m: Measurement, signals: list[Signal], title: str) -> bool:
    """Whether an exempt word (a kitchen knife, a prop, scissors) covers the blade. A thing sold
    beside knives (`item_scoped`) that a title lists after its first item covers the blade of its
    own item only: the trauma shears of a first-aid kit leave its 7.5-inch fixed blade measured,
    while a title that starts with it is that thing ("Folding saw, 10 inch blade")."""
    exempt = [s for s in signals if s.group in m.exempt]
    if not exempt:
        return False
    scoped = [s for s in exempt if s.group in m.item_scoped and s.field == "title"]
    if len(scoped) < len(exempt):
        return True
    blades = [s for s in signals if s.group in m.applies_to and s.field == "title"]
    if not blades:
        return True
    items = _item_starts(title, tuple(m.item_separators))
    blade_items = {bisect_right(items, s.start) for s in blades}
    return any(bisect_right(items, s.start) in blade_items | {0} for s in scoped)


@functools.lru_cache(maxsize=1024)
def _item_starts(title: str, separators: tuple[str, ...]) -> list[int]:
    """Offsets where a title's items start after the first (each separator's end), in order; with
    no separators the title is one item."""
    return [m.end() for m in _separators(separators).finditer(title)] if separators else []


@functools.lru_cache(maxsize=16)
def _separators(separators: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(map(re.escape, sorted(separators, key=len, reverse=True))), re.IGNORECASE)


def _lengths(m: Measurement, patterns: dict[str, list[Signal]]) -> list[Signal]:
    return [s for s in patterns.get(m.length_pattern, ()) if s.value is not None]


def _measured(family: Family, ls: ListingSignals) -> bool:
    """Whether a rule of the family with a measurement table judged this listing by it: a blade
    it applies to, exempt or with a length read."""
    for rule in family.rules:
        m = rule.measurement
        if m is not None:
            groups = {s.group for s in ls.by_rule.get(rule.id, ())}
            if _is_blade(m, groups) and (_exempt(m, ls.by_rule.get(rule.id, []), ls.title) or _lengths(m, ls.patterns)):
                return True
    return False


def _best_by_group(signals: list[Signal]) -> dict[str, Signal]:
    best: dict[str, Signal] = {}
    for s in signals:
        cur = best.get(s.group)
        if cur is None or (s.weight, -_DETECTOR_ORDER[s.detector]) > (cur.weight, -_DETECTOR_ORDER[cur.detector]):
            best[s.group] = s
    return best


def rule_hit(rule: Rule, family: Family, ls: ListingSignals) -> Hit | None:
    """Does `rule` fire on these signals? Returns the hit with its evidence."""
    signals = ls.by_rule.get(rule.id, [])
    groups = _best_by_group(signals)
    if rule.category:
        if rule.category.outside and _under(ls.category, [normal_path(p) for p in rule.category.outside]):
            return None
        if rule.category.inside and not _under(ls.category, [normal_path(p) for p in rule.category.inside]):
            return None
    for req in rule.requires:
        if not (any(g in groups for g in req.groups)
                or _under(ls.category, [normal_path(p) for p in req.categories])
                or any(ls.patterns.get(p) for p in req.patterns)):
            return None
    threshold = rule.threshold if rule.threshold is not None else family.defaults.threshold
    contributing = [s for s in groups.values() if s.weight > 0]
    score = sum(s.weight for s in contributing)
    for name, weight in rule.patterns.items():
        found = ls.patterns.get(name)
        if found and weight > 0:
            score += weight
            contributing.append(found[0])
    measured = _measurement(rule, groups, signals, ls)
    if measured is not None:
        score = max(score, threshold)
        contributing.append(measured)
    if score < threshold or not contributing:
        return None
    d = family.defaults
    excess = min(1.0, (score - threshold) / threshold) if threshold else 1.0
    confidence = d.confidence_at_threshold + (d.confidence_max - d.confidence_at_threshold) * excess
    if all(s.detector == "fuzzy" for s in contributing):
        confidence *= d.fuzzy_factor
    evidence = _evidence(contributing, signals)
    return Hit(rule.id, round(confidence, 3), rule.reason, evidence)


def _evidence(contributing: list[Signal], signals: list[Signal]) -> list[Evidence]:
    """Every span of the contributing groups and patterns, each once, in reading order; a piece
    of a word inside a longer span is left out ("dalafil" within "Tadalafil", not "crossbow"
    within "Compound crossbow")."""
    groups = {(s.detector == "pattern", s.group) for s in contributing}
    seen, out = set(), []
    for s in [*contributing, *signals]:
        if (s.detector == "pattern", s.group) not in groups:
            continue
        key = (s.field, s.start, s.end)
        if key not in seen:
            seen.add(key)
            out.append(s.evidence())
    return [e for e in out if not any(_piece_of_word(e, o) for o in out)]


def _piece_of_word(inner: Evidence, outer: Evidence) -> bool:
    """Whether `inner` lies inside `outer` and starts or ends within one of its words."""
    if inner.field != outer.field or not (outer.start <= inner.start and inner.end <= outer.end) \
            or outer.end - outer.start == inner.end - inner.start:
        return False
    before, after = inner.start - outer.start - 1, inner.end - outer.start
    # in Chinese or Japanese a term inside a longer one is a word of its own ("烟油" in "电子烟油")
    return (before >= 0 and word_char(outer.text[before])) or (after < len(outer.text) and word_char(outer.text[after]))


def _ml_findings(ls: ListingSignals, rulesets: Rulesets, hits: dict[str, Hit]) -> list[Finding]:
    """The classifiers' say, for families no rule has fired in. Above the family's block
    threshold and corroborated by a weighted term or pattern of the family, the family's most likely
    rule fires (added to `hits`); above its review threshold, when no rule fired at all, a person
    looks (returned)."""
    reviews = []
    nothing_else = not hits
    for family_name, (p, evidence) in ls.ml.items():
        family = rulesets.families[family_name]
        rule = next((r for r in family.rules if r.ml_family_rule), None)
        if rule is None or family.ml is None or any(r.id in hits for r in family.rules) \
                or _under(ls.category, [normal_path(c) for c in family.ml.not_in_categories]):
            continue
        support = [s for r in family.rules for s in ls.by_rule.get(r.id, ())
                   if s.weight > 0 and _corroborates(r, s)]
        support += [s for r in family.rules for name, w in r.patterns.items() if w > 0
                    for s in ls.patterns.get(name, ())]
        proof = [s.evidence() for s in [*evidence, *support]]
        if p >= family.ml.block and support:
            if family.ml.rule_from_support:
                rule = _most_supported(family, rule, ls)
            hits[rule.id] = Hit(rule.id, round(p, 3), rule.reason, proof)
        elif p >= family.ml.review and nothing_else and not _measured(family, ls):
            # a safety net where the words found nothing; a blade the rules measured (or exempted)
            # and found within the limits was decided, not missed
            reviews.append(Finding(rule=rule.id, grade=None, points=0, blocked_markets=[],
                                   confidence=round(p, 3), outcome="review", evidence=proof,
                                   reason=f"The classifier finds this listing likely to break this rule "
                                          f"(p={p:.2f}); a reviewer decides."))
    return reviews


def _most_supported(family: Family, default: Rule, ls: ListingSignals) -> Rule:
    """The family's rule whose own weighted terms and patterns add up to most; `default` on a tie."""
    def weight(r: Rule) -> float:
        terms = sum(s.weight for s in _best_by_group(ls.by_rule.get(r.id, [])).values()
                    if s.weight > 0 and _corroborates(r, s))
        return terms + sum(w for name, w in r.patterns.items() if w > 0 and ls.patterns.get(name))
    best = max(family.rules, key=lambda r: (weight(r), r is default))
    return best if weight(best) > 0 else default


def _corroborates(rule: Rule, signal: Signal) -> bool:
    group = next((g for g in rule.terms if g.name == signal.group), None)
    return group is None or group.corroborates


def _targets(markets: Markets, target_markets: list[str] | None) -> set[str] | None:
    return None if not target_markets else markets.expand(target_markets)


def _applies(rule: Rule, markets: Markets, targets: set[str] | None, as_of: dt.date) -> bool:
    if rule.effective is not None and as_of < rule.effective:
        return False
    if "*" in rule.markets or targets is None:
        return True
    return bool(markets.expand(rule.markets) & targets)


def finding_for(hit: Hit, rule: Rule) -> Finding:
    return Finding(rule=rule.id, grade=rule.grade, points=rule.points, blocked_markets=list(rule.markets),
                   confidence=hit.confidence, reason=hit.reason, evidence=hit.evidence, outcome=rule.outcome)


def verdict(listing_id: str, target_markets: list[str] | None, ls: ListingSignals, rulesets: Rulesets,
            as_of: dt.date, model_version: str, excepted: set[str] = frozenset()) -> Verdict:
    """The verdict for one listing. `excepted` names rules snoozed for this merchant: noted, not applied."""
    targets = _targets(rulesets.markets, target_markets)
    hits: dict[str, Hit] = {}
    # without a signal of its own a rule can fire only through a pattern the listing holds
    for rule_id, rule in rulesets.rules.items() if ls.by_rule or ls.patterns else ():  # family and file order
        if rule_id in ls.by_rule or ls.patterns and rule_id in rulesets.unconditional:
            hit = rule_hit(rule, rulesets.family_of[rule_id], ls)
            if hit is not None:
                hits[rule_id] = hit
    for hit in ls.hits:
        hits.setdefault(hit.rule, hit)
    reviews = _ml_findings(ls, rulesets, hits)
    findings, notes = [], []
    for rule_id, hit in hits.items():
        rule = rulesets.rules[rule_id]
        if not _applies(rule, rulesets.markets, targets, as_of):
            continue
        if rule_id in excepted:
            notes.append(f"excepted: {rule_id}")
            continue
        finding = finding_for(hit, rule)
        if targets is not None and "*" not in rule.markets:
            # a finding blocks only the targeted markets it names
            finding.blocked_markets = sorted(rulesets.markets.expand(rule.markets) & targets)
        findings.append(finding)
    for finding in reviews:
        rule = rulesets.rules[finding.rule]
        if _applies(rule, rulesets.markets, targets, as_of) and finding.rule not in excepted:
            findings.append(finding)
    findings.sort(key=lambda f: (-DECISION_ORDER[f.outcome], -_GRADE_ORDER[f.grade], -f.points,
                                 -f.confidence, f.rule))
    decision = findings[0].outcome if findings else "pass"
    blocked: set[str] = set()
    for f in findings:
        if f.outcome in ("block", "restrict"):
            blocked |= set(f.blocked_markets)
    blocked_markets = ["*"] if "*" in blocked else sorted(blocked)
    return Verdict(listing_id=listing_id, decision=decision, blocked_markets=blocked_markets,
                   points=sum(f.points for f in findings), findings=findings,
                   ruleset_version=rulesets.version, model_version=model_version, as_of=as_of.isoformat(),
                   notes=notes)
