"""A synthetic catalog for sweep tests and benchmarks.

Most listings are ordinary goods built from a neutral vocabulary; a share of them are the
rulesets' own examples (those that must fire and those that must pass) under new ids, so a
generated catalog exercises every rule without a single policy term living in this code.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import orjson

from scanner.rulesets import Rulesets

_NOUNS = ("lamp", "bottle", "cable", "jacket", "chair", "mug", "backpack", "charger", "towel", "notebook",
          "speaker", "blanket", "kettle", "helmet", "drill", "stroller", "mirror", "pillow", "tripod", "tent")
_ADJ = ("stainless", "portable", "wireless", "cotton", "vintage", "foldable", "waterproof", "ergonomic",
        "compact", "heavy duty", "lightweight", "premium", "smart", "eco friendly", "handmade")
_FILL = ("Ships in 3 days.", "Wholesale pricing for bulk orders.", "OEM and ODM welcome.",
         "Quality checked before dispatch.", "Available in several colours.", "Custom logo printing.",
         "Sample orders accepted.", "Packed in a carton with foam inserts.", "Factory direct supply.")
_CATS = ("Home & Garden > Kitchen", "Consumer Electronics > Accessories", "Apparel > Outerwear",
         "Sports & Entertainment > Camping", "Tools > Power Tools", "Mother & Kids > Strollers")
_MARKETS = (None, ["US"], ["DE", "FR"], ["US", "GB", "DE"], ["BR"], ["JP", "KR"])


def _examples(rulesets: Rulesets | None) -> list[dict]:
    out: list[dict] = []
    if rulesets is None:
        return out
    for rule in rulesets.rules.values():
        for ex in list(rule.examples.fire) + list(rule.examples.pass_):
            data = dict(ex.listing or {})
            for k in ("title", "description", "category", "attributes", "keywords", "image_texts",
                      "target_markets"):
                v = getattr(ex, k)
                if v is not None:
                    data[k] = v
            data.setdefault("title", "")
            out.append(data)
    return out


def generate(n: int, seed: int = 7, rulesets: Rulesets | None = None, risky_share: float = 0.05,
             merchants: int = 5000, prefix: str = "G") -> Iterator[dict]:
    rng = random.Random(seed)
    examples = _examples(rulesets)
    for i in range(n):
        mid = f"M-{rng.randrange(merchants)}"
        lid = f"{prefix}-{i}"
        if examples and rng.random() < risky_share:
            data = dict(rng.choice(examples))
            data.update(listing_id=lid, merchant_id=mid)
            yield data
            continue
        title = f"{rng.choice(_ADJ)} {rng.choice(_ADJ)} {rng.choice(_NOUNS)} model {rng.randrange(10000)}"
        desc = " ".join(rng.choice(_FILL) for _ in range(12))
        data = {"listing_id": lid, "merchant_id": mid, "title": title.capitalize(), "description": desc,
                "category": rng.choice(_CATS), "attributes": {"Material": rng.choice(_ADJ)},
                "keywords": [rng.choice(_NOUNS), rng.choice(_ADJ)]}
        markets = rng.choice(_MARKETS)
        if markets:
            data["target_markets"] = markets
        yield data


def write_jsonl(path: str | Path, n: int, **kw) -> Path:
    path = Path(path)
    with path.open("wb") as f:
        buf = []
        for data in generate(n, **kw):
            buf.append(orjson.dumps(data))
            if len(buf) >= 10000:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return path
