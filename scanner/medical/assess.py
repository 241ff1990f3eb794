"""The medical stage: which §4 rules fire on a listing, given the merchant's certificates.

`MedicalAssessor` is built once (ruleset, optional FDA table, optional verifier) and
`assess()` is called per listing. It returns `Hit`s; the policy layer attaches grade,
points, blocked markets and effective dates from the YAML and filters by target market.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from scanner.detectors.base import Hit
from scanner.listing import Certificate, Listing, parse_certificate
from scanner.medical.certificates import CertificateChecker, Verifier
from scanner.medical.identify import Identification, Identifier
from scanner.medical.ruleset import MedicalConfig
from scanner.text import Doc

MARKETS_FILE = Path(__file__).resolve().parents[2] / "rulesets" / "markets.yaml"


def _market_groups(markets: Any) -> dict[str, list[str]]:
    """Market groups from a Rulesets.markets object, a dict, or rulesets/markets.yaml."""
    if markets is not None:
        groups = getattr(markets, "groups", markets)
        return {k.upper(): [m.upper() for m in v] for k, v in dict(groups).items()}
    if MARKETS_FILE.exists():
        data = yaml.safe_load(MARKETS_FILE.read_text(encoding="utf-8")) or {}
        groups = data.get("groups", data)
        return {k.upper(): [m.upper() for m in v] for k, v in groups.items() if isinstance(v, list)}
    return {}


class MedicalAssessor:
    def __init__(self, family, fda_rows: list[dict] | None = None, verifier: Verifier | None = None,
                 markets: Any = None):
        rules = family.rules
        self.rules = rules if isinstance(rules, dict) else {r.id: r for r in rules}
        self.family = getattr(family, "family", "medical_device")
        self.config = MedicalConfig.from_extra(family.extra)
        self.identifier = Identifier(self.config, fda_rows)
        self.checker = CertificateChecker(self.config, self.identifier, verifier)
        self.msg = self.config.messages
        groups = _market_groups(markets)
        no_ce = self.rules[self._id("no_ce")]
        self.ce_markets: set[str] = set()
        for m in no_ce.markets:
            self.ce_markets |= set(groups.get(m.upper(), [m.upper()]))

    def _id(self, name: str) -> str:
        return f"{self.family}/{name}"

    def _reason(self, name: str, *parts: str) -> str:
        return " ".join([self.rules[self._id(name)].reason, *[p for p in parts if p]])

    def identify(self, listing: Listing, docs: dict[str, Doc] | None = None) -> Identification:
        return self.identifier.identify(listing, docs)

    def assess(self, listing: Listing, certificates: Iterable[Certificate | dict] = (),
               as_of: dt.date | None = None, docs: dict[str, Doc] | None = None,
               found: list | None = None) -> list[Hit]:
        """`found`: the identifier's terms as the engine's keyword pass located them (see identify)."""
        ident = self.identifier.identify(listing, docs, found)
        if not ident.is_device:
            return []
        as_of = as_of or dt.date.today()
        certs = [parse_certificate(c) for c in certificates]
        certs = [c for c in certs if c.merchant_id == listing.merchant_id
                 and c.type == self.config.certificates.type and c.category == self.config.certificates.category]
        conf = self.config.confidence
        confidence = conf.table if (ident.types or ident.nmpa or ident.category) else conf.claim_only
        klass = ident.device_class
        why = ", ".join(ident.why[:4])
        device = (self.msg["device"].format(device=ident.label.capitalize(), klass=klass, why=why)
                  if klass else self.msg["device_unclassified"].format(why=why))
        title = listing.title
        hits: list[Hit] = []
        unverified: list[str] = [self.msg["nmpa_malformed"].format(error=e) for e in ident.nmpa_errors]

        if klass is not None and klass >= self.config.matrix_class:
            china = self.checker.china(certs, ident, title, as_of, klass)
            fda = self.checker.fda(certs, ident, title, as_of)
            unverified += fda.unverified
            unverified += self.checker.nmpa_unverified(certs, ident, title, as_of)
            fda_ok = fda.ok or fda.unknown   # unknown: a person decides (unverified), never pass
            china_text = self.msg["china_missing"].format(details="; ".join(china.reasons)) if not china.ok else ""
            fda_text = self.msg["fda_missing"].format(details="; ".join(fda.reasons)) if not fda.ok else ""
            evidence = ident.evidence + china.evidence() + fda.evidence()
            if china.ok and not fda_ok:
                hits.append(Hit(self._id("class3_no_fda"), confidence, self._reason("class3_no_fda", device, fda_text),
                                evidence))
            elif not china.ok and not fda_ok:
                hits.append(Hit(self._id("class3_unqualified"), confidence,
                                self._reason("class3_unqualified", device, china_text, fda_text), evidence))
            elif not china.ok and fda_ok:
                hits.append(Hit(self._id("class3_no_china"), confidence,
                                self._reason("class3_no_china", device, china_text), evidence))

        if self._targets_ce(listing):
            ce = self.checker.ce(certs, ident, title, as_of)
            if not ce.ok:
                text = self.msg["ce_missing"].format(device=ident.label, as_of=as_of.isoformat(),
                                                     details="; ".join(ce.reasons))
                hits.append(Hit(self._id("no_ce"), confidence, self._reason("no_ce", device, text),
                                list(ident.evidence)))

        if unverified:
            text = self.msg["unverified"].format(details="; ".join(unverified))
            hits.append(Hit(self._id("unverified"), conf.unverified, self._reason("unverified", device, text),
                            list(ident.evidence)))
        return hits

    def _targets_ce(self, listing: Listing) -> bool:
        if listing.target_markets is None:
            return True
        targets = {m.upper() for m in listing.target_markets}
        return "*" in targets or bool(targets & self.ce_markets)


def build_verifier(store=None) -> Verifier | None:
    """A verifier from the environment (SCANNER_OPENFDA_URL / SCANNER_NMPA_URL), cached in the
    store when one is given; None when neither is configured (offline: uploaded fields count)."""
    from scanner.medical.http import MemoryCache, StoreCache
    from scanner.medical.nmpa import NmpaClient
    from scanner.medical.openfda import OpenFdaClient

    cache = StoreCache(store) if store is not None else MemoryCache()
    fda, nmpa = OpenFdaClient.from_env(cache=cache), NmpaClient.from_env(cache=cache)
    return Verifier(fda, nmpa) if fda or nmpa else None


def load_assessor(family, store=None, markets: Any = None) -> MedicalAssessor:
    """The assessor with the stored FDA table (if any) and the configured verifier."""
    rows = store.fda_classification() if store is not None else None
    return MedicalAssessor(family, fda_rows=rows or None, verifier=build_verifier(store), markets=markets)
