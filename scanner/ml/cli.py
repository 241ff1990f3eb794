"""`scanner train`, `scanner eval` and `scanner models`: build, compare, evaluate and roll back classifiers."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from scanner.io import read_records
from scanner.listing import RecordError
from scanner.ml import corpus, evaluate, modelcard, train
from scanner.ml.document import listing_text
from scanner.ml.features import FeatureParams
from scanner.ml.runtime import CURRENT, DEFAULT_DIR, ModelError, load_classifiers, version_dir

FEEDBACK_FILE = "feedback.jsonl"


def feedback_rows(path: Path) -> list[dict]:
    """Reviewer decisions ({listing, rule, decision: confirmed|dismissed}) as labelled corpus rows."""
    rows = []
    for n, rec in read_records(path):
        where = f"{path} line {n}"
        if isinstance(rec, RecordError):
            raise ValueError(f"{where}: not JSON ({rec.message})")  # noqa: TRY004 - bad input data
        if not isinstance(rec.get("listing"), dict):
            raise ValueError(f"{where}: field 'listing' must be an object")  # noqa: TRY004 - bad input data, reported as such
        rule = rec.get("rule")
        if not isinstance(rule, str) or rule.split("/")[0] not in corpus.FAMILIES:
            raise ValueError(f"{where}: field 'rule' must name a rule of {', '.join(corpus.FAMILIES)}")
        if rec.get("decision") not in ("confirmed", "dismissed"):
            raise ValueError(f"{where}: field 'decision' must be 'confirmed' or 'dismissed'")
        ident = rec["listing"].get("listing_id", f"line{n}")
        flag = f":flag {rec['flag_id']}" if "flag_id" in rec else ""
        rows.append({"text": listing_text(rec["listing"]),
                     "labels": {rule.split("/")[0]: int(rec["decision"] == "confirmed")},
                     "provenance": f"feedback:{rule}:{rec['decision']}:{ident}{flag}"})
    return rows


def _merge_feedback(data_dir: Path, new: list[dict]) -> int:
    path = data_dir / FEEDBACK_FILE
    old = corpus.read_corpus_file(path) if path.exists() else []
    seen = {(r["text"], json.dumps(r["labels"], sort_keys=True)) for r in old}
    added = [r for r in new if (r["text"], json.dumps(r["labels"], sort_keys=True)) not in seen]
    with path.open("a", encoding="utf-8") as f:
        for r in added:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    return len(added)


def _print_metrics(title: str, report: dict) -> None:
    print(title)
    for fam, m in report.items():
        if not m:
            continue
        print(f"  {fam:22} P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f} AP {m['average_precision']:.4f}"
              f"  thr@P0.99 {m['at_precision_0.99']['threshold']}  thr@P0.95 {m['at_precision_0.95']['threshold']}")


def cmd_train(args) -> int:
    models_dir, data_dir = Path(args.models), Path(args.data)
    rulesets_dir = Path(args.rulesets) if args.rulesets else corpus.REPO / "rulesets"
    try:
        generated = [p for p in data_dir.glob("*.jsonl") if p.name != FEEDBACK_FILE]
        if args.rebuild_corpus or not generated:
            templates = yaml.safe_load((data_dir / "templates.yaml").read_text(encoding="utf-8"))
            rows = corpus.build_rows(templates, rulesets_dir)
            for p in generated:
                p.unlink()
            print("corpus:", corpus.write_corpus(rows, data_dir))
        if args.feedback:
            print(f"feedback: {_merge_feedback(data_dir, feedback_rows(Path(args.feedback)))} new rows")
        rows = corpus.read_corpus(data_dir)
        old = load_classifiers(models_dir)
    except (ValueError, OSError, ModelError) as exc:
        print(f"scanner train: {exc}", file=sys.stderr)
        return 2
    if old is not None and not args.force:
        new_hash = train.version_for(rows, FeatureParams(char_bits=args.bits, word_bits=args.bits))
        if new_hash == old.version:
            print(f"models {old.version} are already trained on this corpus")
            return 0
    new, manifest = train.train(rows, models_dir, FeatureParams(char_bits=args.bits, word_bits=args.bits))
    _print_metrics(f"new models {new.version} (held-out rows: {manifest['held_out_rows']})", manifest["held_out"])
    replace = True
    if old is not None:
        old_report = train.evaluate(old, rows)
        _print_metrics(f"current models {old.version} on the same held-out rows", old_report)
        replace = train.not_worse(manifest["held_out"], old_report, args.tolerance)
    if replace:
        train.make_current(models_dir, new.version)
        modelcard.write(models_dir, manifest, corpus.summary(rows))
        print(f"now current: {new.version}" + (f" (previous {old.version} kept for rollback)" if old else ""))
    else:
        print(f"kept current {old.version}: the new models are worse on the held-out rows; "
              f"{new.version} stays in {version_dir(models_dir, new.version)}")
    return 0


def cmd_eval(args) -> int:
    from scanner.engine import Scanner

    models_dir = Path(args.models)
    try:
        cases = evaluate.read_cases(Path(args.cases))
        if args.families:
            cases = evaluate.family_filter(cases, set(args.families.split(",")))
        clf = load_classifiers(models_dir)
        keyword_only = Scanner.load(args.rulesets, models_dir / "no-models-here")
        combined = Scanner.load(args.rulesets, models_dir)
    except (ValueError, OSError, ModelError) as exc:
        print(f"scanner eval: {exc}", file=sys.stderr)
        return 2
    thresholds = {f: fam.ml.review for f, fam in combined.rulesets.families.items() if getattr(fam, "ml", None)}
    rows = [("keyword-only", evaluate.score(cases, evaluate.scanner_results(keyword_only, cases)))]
    if clf is not None:
        rows.append(("ML-only (by family)", evaluate.score(cases, evaluate.ml_results(clf, cases, thresholds), by_family=True)))
    rows.append((f"combined (model {combined.model_version})", evaluate.score(cases, evaluate.scanner_results(combined, cases))))
    print(f"{len(cases)} cases; ML review thresholds from the rulesets: {thresholds}")
    for name, r in rows:
        print(f"{name:40} macro-F1 {r['rule_macro_f1']:.4f}  negatives flagged {r['negatives_flagged']:>8}"
              f"  bad evidence offsets {r['bad_evidence_offsets']}")
    if args.verbose:
        for name, r in rows:
            print(f"\n{name}")
            for rule, m in r["rules"].items():
                print(f"  {rule:45} tp {m['tp']:4} fp {m['fp']:4} fn {m['fn']:4} f1 {m['f1']:.3f}")
    return 0


def cmd_models(args) -> int:
    models_dir = Path(args.models)
    if args.use:
        try:
            load_classifiers(models_dir, args.use)  # refuses a missing, tampered or untrusted version
        except ModelError as exc:
            print(f"scanner models: {exc}", file=sys.stderr)
            return 2
        train.make_current(models_dir, args.use)
        print(f"now current: {args.use}")
        return 0
    current = json.loads((models_dir / CURRENT).read_text())["version"] if (models_dir / CURRENT).exists() else None
    for vdir in sorted((models_dir / "versions").glob("*")):
        mark = "*" if vdir.name == current else " "
        print(f"{mark} {vdir.name}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="build the ML corpus if needed, train, compare, and make current when not worse")
    p.add_argument("--models", default=str(DEFAULT_DIR), help="models directory (default: models/)")
    p.add_argument("--data", default=str(DEFAULT_DIR / "data"), help="corpus directory (default: models/data/)")
    p.add_argument("--rulesets", default=None, help="rulesets directory, for their examples and terms")
    p.add_argument("--rebuild-corpus", action="store_true", help="regenerate the generated corpus files from templates.yaml")
    p.add_argument("--feedback", help="reviewer decisions (JSONL: listing, rule, decision) to add as labelled rows")
    p.add_argument("--tolerance", type=float, default=0.002, help="how much lower a held-out figure may be and still count as not worse")
    p.add_argument("--force", action="store_true", help="train even when the corpus has not changed")
    p.add_argument("--bits", type=int, default=FeatureParams().char_bits,
                   help="hash bits of each n-gram block (default %(default)s; small values make small test models)")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("eval", help="keyword-only, ML-only and combined figures on a case file")
    p.add_argument("cases")
    p.add_argument("--models", default=str(DEFAULT_DIR))
    p.add_argument("--rulesets", default=None)
    p.add_argument("--families", help="comma-separated: only cases whose rules are all of these families (and negatives)")
    p.add_argument("--verbose", "-v", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("models", help="list model versions, or make one current (rollback)")
    p.add_argument("--models", default=str(DEFAULT_DIR))
    p.add_argument("--use", metavar="VERSION", help="make VERSION current")
    p.set_defaults(func=cmd_models)
