"""The merchant's certificates checked against POLICY.md §4.5.

Every check returns whether the qualification holds and, when it does not, the reasons a
merchant can act on ("FDA establishment registration 3012345678 is for 2021 and expired on
2021-12-31"). With a verifier configured, FDA-side facts (registration year, product code,
FDA device name) come from openFDA; a lookup that fails makes the result `unverified`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from scanner.listing import Certificate, Evidence
from scanner.medical.http import LookupResult
from scanner.medical.identify import Identification, Identifier, tokens
from scanner.medical.openfda import facts as openfda_facts
from scanner.medical.openfda import number_error
from scanner.medical.ruleset import MedicalConfig
from scanner.text import normalise_term

FDA_KINDS = {"fda_establishment_registration": "registration", "fda_510k": "510k", "fda_pma": "pma"}


@dataclass(slots=True)
class Verification:
    ok: bool
    facts: dict = field(default_factory=dict)
    reason: str | None = None


class Verifier:
    """Checks certificates with the authorities' clients (each optional: None = offline)."""

    def __init__(self, fda=None, nmpa=None):
        self.fda, self.nmpa = fda, nmpa

    def verify(self, cert: Certificate) -> Verification | None:
        if cert.kind in FDA_KINDS and self.fda is not None:
            kind = FDA_KINDS[cert.kind]
            return _verification(self.fda.lookup(kind, cert.number), lambda r: openfda_facts(kind, r))
        if cert.kind == "nmpa_registration" and self.nmpa is not None:
            return _verification(self.nmpa.lookup("registration", cert.number), lambda r: dict(r))
        return None


def _verification(result: LookupResult, extract) -> Verification:
    if result.ok:
        return Verification(True, extract(result.record))
    if result.not_found:
        return Verification(False, reason=f"{result.source} has no {result.kind} record {result.number}")
    return Verification(False, reason=result.error or "lookup failed")


@dataclass(slots=True)
class Check:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    used: list[Certificate] = field(default_factory=list)
    unknown: bool = False        # failed only because a certificate could not be verified

    def evidence(self) -> list[Evidence]:
        return [Evidence(f"certificates.{c.certificate_id}", 0, 0, f"{c.kind} {c.number}".strip(), "certificate")
                for c in self.used]


class CertificateChecker:
    def __init__(self, config: MedicalConfig, identifier: Identifier, verifier: Verifier | None = None):
        self.config = config
        self.settings = config.certificates
        self.msg = config.messages
        self.identifier = identifier
        self.verifier = verifier

    # -- helpers ---------------------------------------------------------------------------
    def _kind(self, kind: str) -> str:
        return self.settings.kinds.get(kind, kind)

    def _say(self, key: str, **values) -> str:
        return self.msg[key].format(**values)

    def covers(self, text: str, ident: Identification, title: str) -> bool:
        """Does a scope (or an FDA device name) name the identified device?"""
        if not text or not text.strip():
            return False
        named = self.identifier.types_in(text)
        wanted = {t.id for t in ident.types}
        if wanted:
            if named & wanted:
                return True
            if named:
                return False
            norm = " ".join(tokens(normalise_term(text)))
            cutoff = self.settings.scope_cutoff
            for t in ident.types:
                for name in [t.label] + t.names.get("en", []):
                    if fuzz.token_set_ratio(norm, " ".join(tokens(normalise_term(name)))) >= cutoff:
                        return True
            return False
        norm = " ".join(tokens(normalise_term(text)))
        targets = [title] + [m.device_name for m in ident.fda]
        return any(fuzz.token_set_ratio(norm, " ".join(tokens(normalise_term(t)))) >= self.settings.scope_cutoff
                   for t in targets if t)

    def _basic(self, cert: Certificate, ident: Identification, title: str, as_of: dt.date) -> str | None:
        """Why `cert` does not count (status, scope, validity), or None when it does."""
        kind = self._kind(cert.kind)
        if cert.status not in self.settings.counted_status:
            return self._say("not_approved", kind=kind, number=cert.number, status=cert.status)
        if not self.covers(cert.scope, ident, title):
            return self._say("scope_mismatch", kind=kind, number=cert.number, scope=cert.scope[:200],
                             device=ident.label)
        if cert.valid_from and as_of < cert.valid_from:
            return self._say("not_yet_valid", kind=kind, number=cert.number, valid_from=cert.valid_from)
        if cert.valid_until and as_of > cert.valid_until:
            return self._say("expired", kind=kind, number=cert.number, valid_until=cert.valid_until)
        return None

    def _of(self, certs, kind):
        return [c for c in certs if c.kind == kind]

    def _licence(self, certs, kind, ident, title, as_of, klass) -> tuple[Certificate | None, list[str]]:
        reasons = []
        for cert in self._of(certs, kind):
            why = self._basic(cert, ident, title, as_of)
            if why is None and klass is not None and klass not in cert.device_classes:
                why = self._say("class_not_covered", kind=self._kind(kind), number=cert.number, klass=klass,
                                classes=", ".join(map(str, cert.device_classes)) or "none")
            if why is None:
                return cert, []
            reasons.append(why)
        if not reasons:
            reasons.append(self._say("no_certificate_for", kind=self._kind(kind), device=ident.label))
        return None, reasons

    # -- China -------------------------------------------------------------------------------
    def china(self, certs: list[Certificate], ident: Identification, title: str, as_of: dt.date,
              klass: int) -> Check:
        prod, prod_why = self._licence(certs, "nmpa_production_license", ident, title, as_of, klass)
        if prod is not None:
            return Check(True, used=[prod])
        reasons = list(prod_why)
        if self._of(certs, "nmpa_business_license") or self._of(certs, "authorization"):
            biz, biz_why = self._licence(certs, "nmpa_business_license", ident, title, as_of, klass)
            auth, auth_why = self._licence(certs, "authorization", ident, title, as_of, None)
            missing = (biz_why if biz is None else []) + prod_why + (auth_why if auth is None else [])
            reasons = [self._say("trading_path", details="; ".join(missing))]
        return Check(False, reasons)

    # -- FDA -----------------------------------------------------------------------------------
    def _verified(self, cert: Certificate, check: Check) -> tuple[Certificate | None, dict]:
        """(cert, FDA facts) — cert is None when it cannot count (malformed or unverifiable)."""
        kind = FDA_KINDS.get(cert.kind)
        if kind:
            problem = number_error(kind, cert.number.strip().upper())
            if problem:
                check.unverified.append(self._say("malformed_number", kind=self._kind(cert.kind),
                                                  number=cert.number[:40], error=problem))
                return None, {}
        if self.verifier is None:
            return cert, {}
        result = self.verifier.verify(cert)
        if result is None:
            return cert, {}
        if not result.ok:
            check.unverified.append(f"{self._kind(cert.kind)} {cert.number}: {result.reason}")
            return None, {}
        return cert, result.facts

    def device_name_matches(self, name: str | None, code: str | None, ident: Identification, title: str) -> bool:
        codes = ident.product_codes
        if code and code.upper() in codes:
            return True
        if not name:
            return False
        index = self.identifier.fda
        if index is not None and codes and index.codes_for_name(name) & codes:
            return True
        norm = " ".join(tokens(normalise_term(name)))
        for t in ident.types:
            for fda_name in t.fda_device_names:
                if fuzz.token_set_ratio(norm, " ".join(tokens(normalise_term(fda_name)))) >= \
                        self.settings.device_name_cutoff and len(norm) >= 0.6 * len(normalise_term(fda_name)):
                    return True
        if ident.types:
            return bool(self.identifier.types_in(name) & {t.id for t in ident.types})
        return self.covers(name, ident, title)

    def fda(self, certs: list[Certificate], ident: Identification, title: str, as_of: dt.date) -> Check:
        check = Check(False)
        unverified_certs: list[Certificate] = []
        regs = self._of(certs, "fda_establishment_registration")
        reg_ok, reg_reasons = None, []
        for cert in regs:
            why = self._basic(cert, ident, title, as_of)
            if why:
                reg_reasons.append(why)
                continue
            cert2, facts = self._verified(cert, check)
            if cert2 is None:
                unverified_certs.append(cert)
                continue
            year = facts.get("registration_year", cert.registration_year) if facts else cert.registration_year
            if facts and cert.registration_year is not None and year != cert.registration_year:
                reg_reasons.append(self._say("verify_mismatch", kind=self._kind(cert.kind), number=cert.number,
                                             field="registration year", fda_value=year,
                                             claimed=cert.registration_year))
            if year is None:
                reg_reasons.append(self._say("registration_no_year", number=cert.number))
            elif year < as_of.year:
                exp = self.settings.fda_registration_expires
                reg_reasons.append(self._say("registration_expired", number=cert.number, year=year,
                                             expired=dt.date(year, exp.month, exp.day).isoformat()))
            elif year > as_of.year:
                reg_reasons.append(self._say("registration_future", number=cert.number, year=year,
                                             as_of_year=as_of.year))
            else:
                reg_ok = cert
                break
        if reg_ok is None and not reg_reasons and not unverified_certs:
            reg_reasons.append(self._say("no_certificate", kind=self._kind("fda_establishment_registration")))

        clear_ok, clear_reasons = None, []
        clearances = self._of(certs, "fda_510k") + self._of(certs, "fda_pma")
        for cert in clearances:
            why = self._basic(cert, ident, title, as_of)
            if why:
                clear_reasons.append(why)
                continue
            cert2, facts = self._verified(cert, check)
            if cert2 is None:
                unverified_certs.append(cert)
                continue
            name = facts.get("device_name") or cert.device_name
            code = facts.get("product_code") or cert.product_code
            if not name and not code:
                clear_reasons.append(self._say("device_name_missing", kind=self._kind(cert.kind), number=cert.number))
            elif self.device_name_matches(name, code, ident, title):
                clear_ok = cert
                break
            else:
                clear_reasons.append(self._say("device_name_mismatch", kind=self._kind(cert.kind),
                                               number=cert.number, device_name=(name or code)[:200],
                                               device=ident.label))
        if clear_ok is None and not clear_reasons and not any(c.kind != "fda_establishment_registration"
                                                              for c in unverified_certs):
            clear_reasons.append(self._say("no_certificate", kind=f"{self._kind('fda_510k')} or "
                                                                 f"{self._kind('fda_pma')}"))
        check.ok = reg_ok is not None and clear_ok is not None
        reg_unv = any(c.kind == "fda_establishment_registration" for c in unverified_certs)
        clear_unv = any(c.kind in ("fda_510k", "fda_pma") for c in unverified_certs)
        check.unknown = not check.ok and (reg_ok is not None or reg_unv) and (clear_ok is not None or clear_unv)
        check.used = [c for c in (reg_ok, clear_ok) if c is not None]
        if not check.ok:
            check.reasons = ([] if reg_ok else reg_reasons) + ([] if clear_ok else clear_reasons)
        return check

    # -- CE --------------------------------------------------------------------------------------
    def ce(self, certs: list[Certificate], ident: Identification, title: str, as_of: dt.date) -> Check:
        reasons = []
        for cert in self._of(certs, "ce_certificate"):
            why = self._basic(cert, ident, title, as_of)
            if why is None:
                return Check(True, used=[cert])
            reasons.append(why)
        if not reasons:
            reasons.append(self._say("no_certificate", kind=self._kind("ce_certificate")))
        return Check(False, reasons)

    def nmpa_unverified(self, certs: list[Certificate], ident: Identification, title: str,
                        as_of: dt.date) -> list[str]:
        """NMPA registration certificates the decision leans on that the NMPA lookup cannot confirm."""
        if self.verifier is None or self.verifier.nmpa is None:
            return []
        out = []
        for cert in self._of(certs, "nmpa_registration"):
            if self._basic(cert, ident, title, as_of) is None:
                result = self.verifier.verify(cert)
                if result is not None and not result.ok:
                    out.append(f"{self._kind(cert.kind)} {cert.number}: {result.reason}")
        return out
