"""`scanner rules test` runs every ruleset example; `scanner rules lint` finds terms that
fire on other rules' must-pass examples. The same checks run in the test suite."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from scanner.listing import Verdict
from scanner.rulesets import Example, Rule


@dataclass
class ExampleResult:
    rule: str
    expect: str          # fire | pass
    index: int
    ok: bool
    message: str


def _scan_example(scanner, rule: Rule, example: Example, tag: str) -> Verdict:
    listing = example.as_listing(f"{rule.id}#{tag}")
    as_of = example.as_of or _latest_effective(scanner) or dt.date.today()
    return scanner.scan(listing, example.certificates, as_of)


def _latest_effective(scanner) -> dt.date | None:
    dates = [r.effective for r in scanner.rulesets.rules.values() if r.effective]
    return max(dates) if dates else None


def run_examples(scanner) -> list[ExampleResult]:
    results = []
    for rule in scanner.rulesets.rules.values():
        for expect, examples in (("fire", rule.examples.fire), ("pass", rule.examples.pass_)):
            for i, example in enumerate(examples):
                verdict = _scan_example(scanner, rule, example, f"{expect}{i}")
                finding = next((f for f in verdict.findings if f.rule == rule.id), None)
                if expect == "pass":
                    ok, msg = finding is None, "" if finding is None else \
                        f"fired on {[e.text for e in finding.evidence]}"
                elif finding is None:
                    ok, msg = False, f"did not fire (decision {verdict.decision})"
                elif example.span and not any(e.text == example.span for e in finding.evidence):
                    ok, msg = False, f"evidence {[e.text for e in finding.evidence]} lacks {example.span!r}"
                else:
                    ok, msg = True, ""
                results.append(ExampleResult(rule.id, expect, i, ok, msg))
    return results


def lint(scanner) -> list[str]:
    """Rules that fire on another rule's must-pass example. Informational: sibling rules are
    often meant to (a bottle of e-liquid outside the category is still e-liquid)."""
    problems = []
    for rule in scanner.rulesets.rules.values():
        for i, example in enumerate(rule.examples.pass_):
            verdict = _scan_example(scanner, rule, example, f"pass{i}")
            for f in verdict.findings:
                if f.rule != rule.id:
                    problems.append(f"{f.rule} fires on must-pass example {i} of {rule.id} "
                                    f"(title {example.as_listing('x')['title']!r}) via "
                                    f"{[e.text for e in f.evidence]}")
    return problems


def cmd_rules(args) -> int:
    from scanner.engine import Scanner

    scanner = Scanner.load(args.rulesets)
    if args.action == "test":
        results = run_examples(scanner)
        failed = [r for r in results if not r.ok]
        for r in failed:
            print(f"FAIL {r.rule} {r.expect} example {r.index}: {r.message}")
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed else 0
    problems = lint(scanner)
    for p in problems:
        print(p)
    print(f"{len(problems)} lint findings in ruleset {scanner.ruleset_version}")
    return 1 if problems and args.strict else 0


def register(sub) -> None:
    p = sub.add_parser("rules", help="test the rulesets' own examples, or lint them")
    p.add_argument("action", choices=["test", "lint"])
    p.add_argument("--rulesets", help="ruleset directory (default: the bundled rulesets/)")
    p.add_argument("--strict", action="store_true", help="lint: exit 1 when anything is reported")
    p.set_defaults(func=cmd_rules)

