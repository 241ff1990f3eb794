"""Certificate changes: importing or changing a merchant's certificates re-scans that merchant's
medical-device listings (from the content the store keeps), and records the new verdicts."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from scanner.io import read_certificates
from scanner.listing import parse_listing
from scanner.store import Store, apply_exceptions, keys
from scanner.store.record import Item


def flag_thresholds(rulesets) -> dict[str, float]:
    """A finding below the confidence its family gives a bare threshold hit opens a review flag."""
    return {r: rulesets.family_of[r].defaults.confidence_at_threshold for r in rulesets.rules}


def import_certificates(store: Store, path: str, as_of: dt.date | None = None, rescan_listings: bool = True,
                        rulesets: str | None = None, models: str | None = None) -> dict[str, Any]:
    certs, errors = read_certificates(path)
    bad = [(line, str(exc)) for line, exc in errors]
    changed = store.upsert_certificates(certs)
    out: dict[str, Any] = {"imported": len(certs), "bad": bad, "merchants_changed": sorted(changed)}
    if rescan_listings and changed:
        out["rescan"] = dict(rescan(store, changed, as_of, rulesets, models))
    return out


def rescan(store: Store, merchant_ids: Iterable[str], as_of: dt.date | None = None,
           rulesets: str | None = None, models: str | None = None) -> Counter:
    from scanner.engine import Scanner

    scanner = Scanner.load(rulesets, models, store=store)
    as_of = as_of or dt.date.today()
    store.flag_confidence_below = flag_thresholds(scanner.rulesets)
    groups = {k: set(v) for k, v in scanner.rulesets.markets.groups.items()}
    cert_digests = store.certificate_digests(as_of)
    exceptions = store.active_exceptions_all(as_of)
    versions = keys.versions_key(scanner.ruleset_version, scanner.rulesets.rules.values(), as_of,
                                 store.fda_digest(), scanner.model_version)
    counts: Counter = Counter()
    for mid in sorted(set(merchant_ids)):
        certs = store.certificates_for(mid)
        excs = exceptions.get(mid, [])
        exc_digest = keys.set_digest(str(e.id) for e in excs)
        medical, other_keys = [], {}
        for data in store.listings_of(mid):
            listing = parse_listing(data)
            fp = keys.listing_fingerprint(data)
            key = keys.scan_key(fp, cert_digests.get(mid, ""), exc_digest, *versions)
            if scanner.medical is not None and scanner.medical.identify(listing).is_device:
                medical.append((listing, data, fp, key))
            else:
                other_keys[listing.listing_id] = key   # certificates do not touch its verdict
        verdicts = scanner.scan_many([m[0] for m in medical], certs, as_of)
        items = [Item(listing.listing_id, mid, apply_exceptions(v, excs, listing.target_markets, groups),
                      fp, key, keys.pack_content(data))
                 for (listing, data, fp, key), v in zip(medical, verdicts)]
        counts["medical_listings_rescanned"] += len(items)
        counts.update(store.record_items(items))
        store.update_scan_keys(other_keys)
    return counts
