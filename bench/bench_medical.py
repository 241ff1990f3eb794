"""The medical stage's cost per listing, with FDA's full product-code table loaded.

Prints µs/listing for plainly non-medical listings (the common case), for device listings
(identification + FDA matching + certificate checks), and for a realistic mix — the stage as
the engine runs it: the identifier's terms are found by the engine's one keyword pass, so the
stage proper starts from those matches — then the whole pipeline (Scanner.scan, no ML) with
and without the medical stage, in the same process.
Listings are generated here: no dev-set or evaluation listings are used.

    .venv/bin/python bench/bench_medical.py [--n 5000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from pathlib import Path

from scanner.listing import parse_listing
from scanner.medical.assess import MedicalAssessor
from scanner.medical.fda_files import read_path
from scanner.rulesets import load_rulesets

ROOT = Path(__file__).resolve().parents[1]
FDA_CSV = ROOT.parent / "shared" / "data" / "fda_product_codes_2026-08-18.csv"

GOODS = ["Stainless Steel Water Bottle 750ml", "Men's Cotton T-Shirt Blank 180gsm", "USB C Cable 1m Fast Charging",
         "Bluetooth Speaker Portable Waterproof", "Ceramic Plant Pot Set", "LED Strip 5m RGB", "Office Chair Mesh Back",
         "Kids Toy Car Pull Back", "Yoga Mat 6mm Non Slip", "Garden Hose Expandable 30m", "Wall Clock Silent 12 Inch",
         "Solar Panel 450W Half Cell", "Cordless Drill 20V Brushless", "Sleeping Bag Envelope 3 Season"]
DEVICES = ["Colored Contact Lenses Natural Brown 14.2mm Yearly", "Fingertip Pulse Oximeter SpO2 Monitor",
           "ICU Ventilator Invasive Non-Invasive 12 Inch", "Hyaluronic Acid Dermal Filler 2ml Deep Lines",
           "Digital Blood Pressure Monitor Upper Arm", "Nitrile Examination Gloves Powder Free 100pcs",
           "Disposable Surgical Face Mask Type IIR", "Infrared Forehead Thermometer Clinical",
           "Coronary Drug-Eluting Stent Sirolimus", "Medical Chitosan Gel 国械注准20193140001"]
FILLER = ("Factory direct price, OEM and ODM welcome. Packing: 1pc/opp bag, 100pcs/carton. Shipping by DHL, "
          "FedEx, UPS or sea. Sample time 3-5 days. Payment T/T, PayPal, Trade Assurance. ")


def make_listings(n: int, device_share: float, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        device = rnd.random() < device_share
        title = f"{rnd.choice(DEVICES if device else GOODS)} {rnd.choice(['Wholesale', 'Hot Sale', 'New', ''])}".strip()
        out.append({"listing_id": f"B-{i}", "merchant_id": f"M-{i % 50}", "title": title,
                    "description": FILLER * rnd.randint(2, 5),
                    "category": "Health & Medical > Medical Devices" if device and rnd.random() < 0.5 else "Home & Garden",
                    "target_markets": rnd.choice([None, ["US"], ["DE", "FR"], ["US", "DE"]])})
    return out


def make_certs() -> list[dict]:
    certs = []
    for m in range(0, 50, 2):
        certs += [
            {"certificate_id": f"CN-{m}", "merchant_id": f"M-{m}", "kind": "nmpa_production_license",
             "number": "浙食药监械生产许20150001号", "scope": "soft contact lenses", "device_classes": [2, 3]},
            {"certificate_id": f"REG-{m}", "merchant_id": f"M-{m}", "kind": "fda_establishment_registration",
             "number": "3012345678", "scope": "soft contact lenses", "registration_year": 2022},
            {"certificate_id": f"K-{m}", "merchant_id": f"M-{m}", "kind": "fda_510k", "number": "K201234",
             "scope": "soft contact lenses", "device_name": "Lenses, Soft Contact, Daily Wear"},
            {"certificate_id": f"CE-{m}", "merchant_id": f"M-{m}", "kind": "ce_certificate", "number": "CE-1",
             "scope": "pulse oximeters", "valid_until": "2025-12-31"},
        ]
    return certs


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def report(label: str, samples: list[float]) -> None:
    s = sorted(samples)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    print(f"{label:48} {statistics.fmean(s):9.1f} µs/listing   p50 {p(0.5):8.1f}   p99 {p(0.99):8.1f}"
          f"   ({1e6 / statistics.fmean(s):,.0f}/s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    rulesets = load_rulesets()
    family = rulesets.families["medical_device"]
    t0 = time.perf_counter()
    rows = read_path(FDA_CSV)
    assessor = MedicalAssessor(family, fda_rows=rows, markets=rulesets.markets)
    print(f"built the medical stage with {len(rows):,} FDA product codes in {time.perf_counter() - t0:.2f} s")
    as_of = dt.date(2022, 3, 1)
    certs = make_certs()
    by_merchant: dict[str, list] = {}
    for c in certs:
        by_merchant.setdefault(c["merchant_id"], []).append(c)

    from scanner.engine import Scanner
    scanner = Scanner(rulesets, medical=assessor)           # the pipeline without ML
    bare = Scanner(rulesets, medical=None)

    def prepared(data):
        """(listing, documents, the identifier's terms as the engine's keyword pass found them)."""
        listing = parse_listing(data)
        docs = scanner.documents(listing)
        extra: list = []
        scanner.signals(listing, docs, extra)
        return listing, dict(docs), [(name, m.start, m.end, *m.ref.group, m.obfuscated) for name, m in extra]

    def run(item, certificates=True):
        listing, docs, found = item
        certs = by_merchant.get(listing.merchant_id, []) if certificates else []
        return assessor.assess(listing, certs, as_of, docs, found)

    plain = [prepared(d) for d in make_listings(args.n, 0.0)]
    devices = [prepared(d) for d in make_listings(max(args.n // 5, 200), 1.0, seed=8)]
    mix_rows = make_listings(args.n, 0.05, seed=9)
    mix = [prepared(d) for d in mix_rows]
    for item in plain[:200] + devices[:50]:
        run(item)  # warm caches
    report("medical stage, non-medical listings (assess only)", timed(lambda i: run(i, False), plain))
    report("medical stage, device listings (+certificates)", timed(run, devices))
    report("medical stage, mix with 5 % devices", timed(run, mix))

    sample = mix_rows[: min(len(mix_rows), 2000)]

    def pipeline(engine):
        return timed(lambda d: engine.scan(d, by_merchant.get(d["merchant_id"], []), as_of), sample)

    pipeline(scanner), pipeline(bare)                      # warm both paths
    with_medical, without = pipeline(scanner), pipeline(bare)
    report("whole pipeline (Scanner.scan) with medical stage", with_medical)
    report("whole pipeline (Scanner.scan) without medical stage", without)
    share = (statistics.fmean(with_medical) - statistics.fmean(without)) / statistics.fmean(with_medical)
    print(f"medical stage share of the pipeline: {share:.1%}")


if __name__ == "__main__":
    main()
