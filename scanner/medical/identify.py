"""Is a listing a medical device, which device, and of which class (POLICY.md §4.1-4.2).

Every device-type name, claim phrase, claim denial, dosage-form word and `unless` term of the
ruleset (`Identifier.terms`) is found by the keyword detector, spelt and bounded like rule
terms: the engine puts them into its own keyword pass, and on its own the identifier keeps a
KeywordIndex of just these terms. Only when something says "device" (a medical category, an
NMPA number, a claim, a device-type name) does the FDA table get consulted: its names are
indexed by their rarest significant word, candidates are scored with rapidfuzz's
token-set ratio, and a match adds its product code, FDA name and class as evidence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from scanner.detectors.keywords import KeywordIndex
from scanner.listing import Evidence, Listing
from scanner.medical.nmpa import NmpaNumber, NmpaNumberError, find_numbers
from scanner.medical.ruleset import DeviceType, MedicalConfig
from scanner.text import Doc, normalise, normalise_term

_TOKEN = re.compile(r"[^\W_]+")


def stem(token: str) -> str:
    """Fold the plural so 'lenses' meets 'lens' and 'gloves' meets 'glove'."""
    if len(token) > 4 and token.endswith(("ses", "xes", "ches", "shes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text)]


@dataclass(slots=True)
class FdaMatch:
    product_code: str
    device_name: str
    device_class: str
    score: float


@dataclass(slots=True)
class Identification:
    is_device: bool = False
    device_class: int | None = None
    types: list[DeviceType] = field(default_factory=list)
    tiers: dict[str, str] = field(default_factory=dict)
    nmpa: list[NmpaNumber] = field(default_factory=list)
    nmpa_errors: list[str] = field(default_factory=list)
    fda: list[FdaMatch] = field(default_factory=list)
    claim: bool = False
    category: bool = False
    evidence: list[Evidence] = field(default_factory=list)
    why: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.types:
            return " / ".join(t.label for t in self.types)
        if self.fda:
            return self.fda[0].device_name
        return "this device"

    @property
    def product_codes(self) -> set[str]:
        codes = {c for t in self.types for c in t.fda_product_codes}
        return codes | {m.product_code for m in self.fda}


class FdaIndex:
    """FDA classification names, indexed for token-set matching against listing titles."""

    def __init__(self, rows: list[dict], config: MedicalConfig):
        m = config.fda_matching
        self.stop = {normalise_term(w) for w in m.stop_words}
        self.min_tokens = m.min_name_tokens
        self.cutoff = m.score_cutoff
        self.by_code: dict[str, dict] = {}
        self.by_name: dict[str, list[dict]] = {}
        self.index: dict[str, list[tuple[frozenset[str], str, dict]]] = {}
        freq: dict[str, int] = {}
        prepared = []
        for row in rows:
            self.by_code[row["product_code"]] = row
            norm = normalise_term(row["device_name"])
            self.by_name.setdefault(" ".join(tokens(norm)), []).append(row)
            sig = frozenset(t for t in tokens(norm) if t not in self.stop and not t.isdigit())
            if len(sig) >= self.min_tokens:
                prepared.append((sig, row))
                for t in sig:
                    freq[t] = freq.get(t, 0) + 1
        for sig, row in prepared:
            rarest = min(sig, key=lambda t: (freq[t], t))
            self.index.setdefault(rarest, []).append((sig, " ".join(sorted(sig)), row))

    def __len__(self) -> int:
        return len(self.by_code)

    def match(self, text_tokens: set[str], allowed) -> list[FdaMatch]:
        joined = " ".join(sorted(text_tokens))
        out = []
        for t in text_tokens:
            for sig, sig_text, row in self.index.get(t, ()):
                if not allowed(row) or not sig <= text_tokens:
                    continue
                score = fuzz.token_set_ratio(sig_text, joined)
                if score >= self.cutoff:
                    out.append(FdaMatch(row["product_code"], row["device_name"], row["device_class"], score))
        return out

    def codes_for_name(self, name: str) -> set[str]:
        key = " ".join(tokens(normalise_term(name)))
        return {r["product_code"] for r in self.by_name.get(key, ())}


class Identifier:
    """Built once from the ruleset (and optionally FDA's table); `identify` runs per listing."""

    def __init__(self, config: MedicalConfig, fda_rows: list[dict] | None = None):
        self.config = config
        self.rank = config.fda_class_rank
        self.types: dict[str, DeviceType] = {}
        self.tier: dict[str, str] = {}
        terms: list[tuple[str, str, tuple]] = []   # (term, language, payload)

        def add(by_language: dict[str, list[str]], payload: tuple) -> None:
            terms.extend((term, lang, payload) for lang, ts in by_language.items() for term in ts
                         if normalise_term(term))

        for tier, dtype in config.all_types():
            self.types[dtype.id] = dtype
            self.tier[dtype.id] = tier
            add(dtype.names, ("type", dtype.id))
            add({"": dtype.unless}, ("unless", dtype.id))
        add(config.claim_phrases, ("claim", None))
        add(config.claim_exceptions, ("claim_exception", None))
        add(config.drug_forms, ("drug", None))
        self.terms = terms
        self.index = KeywordIndex(None, self.terms)
        self.categories = [(normalise_term(c.path), c.device_type) for c in config.categories]
        self.claim_excluded = [normalise_term(p) for p in config.claim_only_excluded_categories]
        self.everyday_codes = {c for t in config.everyday_goods for c in t.fda_product_codes}
        self.class1_codes = {c for t in config.class1_medical for c in t.fda_product_codes}
        self.device_classes = set(config.fda_device_classes)
        self.fda = FdaIndex(fda_rows, config) if fda_rows else None
        self._category_cache: dict[str, tuple[bool, str | None, bool]] = {}

    # -- text scanning -----------------------------------------------------------------
    def find_terms(self, fields: list[tuple[str, Doc]]) -> list[tuple[str, int, int, str, str | None, bool]]:
        """(field, original start, end, kind, type id, obfuscated) of this identifier's terms."""
        return [(name, m.start, m.end, *m.ref.group, m.obfuscated)
                for name, doc in fields for m in self.index.find(doc)]

    def types_in(self, text: str) -> set[str]:
        """Device-type ids named in a free text (a certificate's scope, say)."""
        norm = normalise_term(text)
        return {type_id for _, _, _, kind, type_id, obfuscated in self.find_terms([("", Doc(norm, norm))])
                if kind == "type" and not obfuscated}

    def _in_category(self, category: str, paths: list[str]) -> str | None:
        for path in paths:
            if category == path or category.startswith((path + " >", path + ">")):
                return path
        return None

    def _category(self, raw: str) -> tuple[bool, str | None, bool]:
        """(medical-device category?, its device type, claim-only excluded?) — cached per path."""
        hit = self._category_cache.get(raw)
        if hit is None:
            category = normalise(raw).text.strip() if raw else ""
            medical, dtype = False, None
            for path, path_type in self.categories:
                if category and self._in_category(category, [path]):
                    medical, dtype = True, path_type
                    break
            excluded = bool(category) and self._in_category(category, self.claim_excluded) is not None
            hit = (medical, dtype, excluded)
            if len(self._category_cache) < 100_000:
                self._category_cache[raw] = hit
        return hit

    # -- identification ------------------------------------------------------------------
    def identify(self, listing: Listing, docs: dict[str, Doc] | None = None,
                 found: list[tuple[str, int, int, str, str | None, bool]] | None = None) -> Identification:
        """What device the listing is, if any. `found`: this identifier's terms as the engine's
        keyword pass located them (see `find_terms`); without it the identifier searches itself.
        Obfuscated spellings count in the title only."""
        ident = Identification()
        if docs is None:
            docs = {f: normalise(v, html=f == "description") for f, v in listing.text_fields()}
        fields = [(f, docs[f]) for f, _ in listing.text_fields() if f in docs]  # category: by path below
        if found is None:
            found = self.find_terms(fields)
        elif not found and not self._category(listing.category or "")[0] \
                and not any("械" in doc.text for _, doc in fields):
            return ident   # no device name, claim, medical category or NMPA number: most listings
        names = {f for f, _ in fields}
        hits: dict[str, list[tuple[str, int, int, str, str, str | None]]] = {}  # field, start, end, quote, kind, type
        unless: set[str] = set()
        denials: list[tuple[str, int, int]] = []   # claim exceptions: field, start, end
        for fname, start, end, kind, type_id, obfuscated in found:
            if obfuscated and fname != "title" or fname not in names:
                continue
            if kind == "unless":
                if fname == "title":   # "packaging box: 50 pcs per carton" in a description voids nothing
                    unless.add(type_id)
            elif kind == "claim_exception":
                denials.append((fname, start, end))
            else:
                hits.setdefault(kind, []).append((fname, start, end, docs[fname].original[start:end], kind, type_id))
        if denials and "claim" in hits:
            hits["claim"] = [h for h in hits["claim"]
                             if not any(f == h[0] and s < h[2] and h[1] < e for f, s, e in denials)]
        title_doc = docs.get("title")
        for fname, doc in fields:
            if "械" in doc.text:
                for start, end, parsed in find_numbers(doc.text):
                    s, e, quote = doc.quote(start, end)
                    if isinstance(parsed, NmpaNumberError):
                        ident.nmpa_errors.append(f"{fname}: {parsed}")
                        continue
                    ident.nmpa.append(parsed)
                    ident.evidence.append(Evidence(fname, s, e, quote, "pattern"))
                    ident.why.append(f"NMPA number {parsed.raw} (class {parsed.device_class})")
        medical_cat, cat_type, excluded = self._category(listing.category or "")
        if medical_cat:
            ident.category = True
            ident.evidence.append(Evidence("category", 0, len(listing.category), listing.category, "keyword"))
            ident.why.append(f"listed in the medical-device category {listing.category!r}")
        claims = hits.get("claim", [])
        if claims:
            ident.claim = True
            fname, s, e, quote, _, _ = claims[0]
            ident.evidence.append(Evidence(fname, s, e, quote, "keyword"))
            ident.why.append(f"claims a medical purpose ({quote!r})")

        # device types: the title's names first, else other fields' names (a description
        # that mentions other products must not decide what this one is)
        type_hits = [h for h in hits.get("type", []) if h[5] not in unless]
        primary = [h for h in type_hits if h[0] == "title"] or [h for h in type_hits if h[0] != "description"] \
            or type_hits
        chosen: dict[str, tuple] = {}
        for h in primary:
            tier = self.tier[h[5]]
            if tier == "everyday" and not ident.claim:
                continue
            chosen.setdefault(h[5], h)
        if cat_type and cat_type not in chosen and not chosen:
            chosen[cat_type] = None
        for type_id, h in chosen.items():
            dtype = self.types[type_id]
            ident.types.append(dtype)
            ident.tiers[type_id] = self.tier[type_id]
            if h is not None:
                fname, s, e, quote, _, _ = h
                ident.evidence.append(Evidence(fname, s, e, quote, "keyword"))
                ident.why.append(f"names the device type {dtype.label} ({quote!r})")

        drug = any(h[0] == "title" for h in hits.get("drug", []))
        claim_device = ident.claim and not drug and not excluded
        ident.is_device = bool(ident.types or ident.nmpa or ident.category or claim_device)
        if not ident.is_device:
            return ident

        if self.fda is not None and title_doc is not None:
            ident.fda = self._fda_match(title_doc.text, ident.claim)
            for m in ident.fda:
                ident.evidence.append(Evidence("fda_classification", 0, 0,
                                               f"{m.product_code}: {m.device_name} (class {m.device_class})",
                                               "lookup"))
                ident.why.append(f"matches FDA product code {m.product_code} \"{m.device_name}\" "
                                 f"(class {m.device_class})")
        ident.device_class = self._class(ident)
        return ident

    def _fda_match(self, title: str, claim: bool) -> list[FdaMatch]:
        def allowed(row: dict) -> bool:
            code, cls = row["product_code"], row["device_class"]
            if code in self.everyday_codes:
                return claim
            return cls in self.device_classes or code in self.class1_codes

        found = self.fda.match(set(tokens(title)), allowed)
        best: dict[str, FdaMatch] = {}
        for m in found:
            best.setdefault(m.product_code, m)
        return sorted(best.values(), key=lambda m: (-self.rank.get(m.device_class, 0), m.product_code))[:3]

    def _class(self, ident: Identification) -> int | None:
        fda = [self.rank[t.fda_class] for t in ident.types if t.fda_class]
        fda += [self.rank.get(m.device_class, 0) for m in ident.fda]
        if self.fda is not None:
            for t in ident.types:
                # with FDA's table loaded, the type's own codes confirm its FDA class is current
                fda += [self.rank.get(self.fda.by_code[c]["device_class"], 0)
                        for c in t.fda_product_codes[:1] if c in self.fda.by_code]
        if ident.nmpa:
            nmpa = [max(n.device_class for n in ident.nmpa)]
        else:
            nmpa = [t.nmpa_class for t in ident.types if t.nmpa_class]
        classes = fda + nmpa
        return max(classes) if classes else None
