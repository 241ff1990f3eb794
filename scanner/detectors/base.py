"""What detectors emit and what the policy consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.listing import Evidence


@dataclass(slots=True)
class Signal:
    """One piece of evidence for a rule: a span of one field, with a weight."""

    rule: str          # "family/rule"
    field: str         # field path, as in Evidence.field
    start: int         # offsets into the ORIGINAL field value
    end: int
    text: str          # original[start:end]
    weight: float      # how much this signal counts towards the rule firing
    detector: str      # keyword | fuzzy | pattern | ml | lookup | certificate
    term: str = ""     # the ruleset term or pattern name that produced it
    group: str = ""    # the rule's term group, or the pattern name
    value: float | None = None  # a measured quantity (blade length in mm, tip angle in degrees...)

    def evidence(self) -> Evidence:
        return Evidence(self.field, self.start, self.end, self.text, self.detector)


@dataclass(slots=True)
class Hit:
    """A rule that fires on a listing, before the policy applies grade, points, markets, dates."""

    rule: str
    confidence: float
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
