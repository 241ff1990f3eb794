"""NMPA (China) registration and filing numbers, and a lookup client for the query pages.

Numbers (医疗器械注册证编号 / 备案编号):
  国械注准20173460427      registration: authority, 准 domestic | 进 imported | 许 HK/Macao/Taiwan,
  粤械注准20192070321      4-digit year, class digit, 2-digit category, 4-digit sequence
  京械备20150012号 / 苏苏械备20200456号   filing (class I): authority, year, sequence
  国食药监械(准)字2013第3460427号          pre-2014 registration: year, then class, category, sequence
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

from bs4 import BeautifulSoup

from scanner.medical.http import (
    Cache,
    HttpError,
    HttpSettings,
    LookupResult,
    MemoryCache,
    fetch,
    make_session,
)

ORIGINS = {"准": "domestic", "进": "imported", "许": "hk_mo_tw"}
_HAN = "\u4e00-\u9fff"
_REGISTRATION = re.compile(rf"^(?P<auth>[{_HAN}]{{1,3}}?)械注(?P<origin>[准进许])(?P<year>\d{{4}})"
                           rf"(?P<cls>\d)(?P<cat>\d{{2}})(?P<seq>\d{{4}})号?$")
_FILING = re.compile(rf"^(?P<auth>[{_HAN}]{{1,3}}?)械备(?P<year>\d{{4}})(?P<seq>\d{{4,6}})号?$")
_OLD = re.compile(rf"^(?P<auth>[{_HAN}]{{1,3}}?)(?:食药监|药监|药管)械\((?P<origin>[准进许])\)字"
                  rf"(?P<year>\d{{4}})第(?P<cls>\d)(?P<cat>\d{{2}})(?P<seq>\d{{4}})号$")
# Where a number may stand in running text (normalised: NFKC folds full-width digits and brackets).
TEXT_PATTERN = re.compile(
    rf"[{_HAN}]{{1,3}}?械注[准进许]\d{{11}}(?!\d)"
    rf"|[{_HAN}]{{1,3}}?械备\d{{8,10}}号?"
    rf"|[{_HAN}]{{1,3}}?(?:食药监|药监|药管)械\([准进许]\)字\d{{4}}第\d{{7}}号"
)
# A loose shape: anything that tries to be a number, so a malformed one is reported, not ignored.
LOOSE_PATTERN = re.compile(rf"[{_HAN}]{{0,3}}械(?:注[准进许]|备)[\d\s]{{4,16}}号?")


class NmpaNumberError(ValueError):
    """A malformed NMPA number; the message says what part is wrong."""

    def __init__(self, number: str, problem: str):
        self.number, self.problem = number, problem
        super().__init__(f"NMPA number {number!r} is malformed: {problem}")


@dataclass(frozen=True, slots=True)
class NmpaNumber:
    raw: str
    kind: str            # registration | filing | registration_pre2014
    authority: str       # 国 (NMPA) or a province/city abbreviation
    origin: str          # domestic | imported | hk_mo_tw
    year: int
    device_class: int    # 1, 2 or 3
    category: str | None  # 2-digit category code (registrations only)
    sequence: str


def parse_number(number: str) -> NmpaNumber:
    """Parse a registration or filing number; raises NmpaNumberError when it is malformed."""
    if not isinstance(number, str):
        raise NmpaNumberError(str(number), "not a string")
    raw = number
    text = unicodedata.normalize("NFKC", number).strip().replace(" ", "")
    if len(text) > 40:
        raise NmpaNumberError(raw[:40], "too long")
    m = _REGISTRATION.match(text)
    if m:
        return _registration(raw, m, "registration")
    m = _OLD.match(text)
    if m:
        return _registration(raw, m, "registration_pre2014")
    m = _FILING.match(text)
    if m:
        auth = m["auth"]
        return NmpaNumber(raw, "filing", auth, "imported" if auth == "国" else "domestic",
                          _year(raw, m["year"]), 1, None, m["seq"])
    raise NmpaNumberError(raw, _diagnose(text))


def _registration(raw: str, m: re.Match, kind: str) -> NmpaNumber:
    cls = int(m["cls"])
    if cls not in (1, 2, 3):
        raise NmpaNumberError(raw, f"class digit {cls} after the year must be 1, 2 or 3")
    return NmpaNumber(raw, kind, m["auth"], ORIGINS[m["origin"]], _year(raw, m["year"]), cls, m["cat"], m["seq"])


def _year(raw: str, year: str) -> int:
    value = int(year)
    if not 1990 <= value <= 2100:
        raise NmpaNumberError(raw, f"year {year} is out of range")
    return value


def _diagnose(text: str) -> str:
    if "械注" in text:
        m = re.search(r"械注([^\d]?)(\d*)", text)
        if m and m.group(1) not in ORIGINS:
            return "expected 准, 进 or 许 after 械注"
        digits = m.group(2) if m else ""
        return (f"expected 11 digits after 械注{m.group(1) if m else ''} (4-digit year, class digit, "
                f"2-digit category, 4-digit sequence), found {len(digits)}")
    if "械备" in text:
        return "expected a 4-digit year and a 4- to 6-digit sequence after 械备"
    if "械(" in text or "字" in text:
        return "expected the form 国食药监械(准)字YYYY第NNNNNNN号"
    return "not an NMPA registration (械注准/进/许) or filing (械备) number"


def find_numbers(text: str) -> list[tuple[int, int, NmpaNumber | NmpaNumberError]]:
    """(start, end, parsed-or-error) for every NMPA-number-like string in normalised text."""
    if "械" not in text:
        return []
    out: list[tuple[int, int, NmpaNumber | NmpaNumberError]] = []
    taken: list[tuple[int, int]] = []
    for m in TEXT_PATTERN.finditer(text):
        try:
            out.append((m.start(), m.end(), parse_number(m.group())))
        except NmpaNumberError as exc:
            out.append((m.start(), m.end(), exc))
        taken.append((m.start(), m.end()))
    for m in LOOSE_PATTERN.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        try:
            out.append((m.start(), m.end(), parse_number(m.group())))
        except NmpaNumberError as exc:
            out.append((m.start(), m.end(), exc))
    return out


# ---------------------------------------------------------------------------------------
# Lookup client for the registration query pages (requests + BeautifulSoup)
# ---------------------------------------------------------------------------------------

# Labels on a registration detail page, mapped to the record's keys.
FIELD_LABELS = {
    "注册证编号": "number", "备案编号": "number", "产品名称": "product_name", "备案产品名称": "product_name",
    "注册人名称": "registrant", "备案人名称": "registrant", "管理类别": "device_class",
    "有效期至": "valid_until", "批准日期": "approved_on", "备案日期": "approved_on",
    "结构及组成": "composition", "适用范围": "scope", "预期用途": "scope",
}
NOT_FOUND_MARKERS = ("没有相关信息", "没有查询到", "无查询结果", "No records found")


class NmpaClient:
    """Looks registration/filing numbers up on an NMPA query page (same interface as OpenFdaClient).

    The page is fetched as GET {base_url}{path}?regno=<number>; a detail table of
    <th>label</th><td>value</td> rows (or <td>label</td><td>value</td>) is read into a record.
    """

    source = "nmpa"

    def __init__(self, base_url: str, path: str = "/datasearch/query", cache: Cache | None = None,
                 settings: HttpSettings | None = None, ttl_seconds: int = 7 * 86400):
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.cache = cache if cache is not None else MemoryCache()
        self.settings = settings or HttpSettings()
        self.session = make_session(self.settings)
        self.ttl = ttl_seconds

    @classmethod
    def from_env(cls, cache: Cache | None = None) -> NmpaClient | None:
        url = os.environ.get("SCANNER_NMPA_URL")
        return cls(url, cache=cache) if url else None

    def lookup(self, kind: str, number: str) -> LookupResult:
        result = LookupResult(self.source, kind, number)
        try:
            parsed = parse_number(number)
        except NmpaNumberError as exc:
            result.error = str(exc)
            return result
        key = unicodedata.normalize("NFKC", number).strip()
        cached = self.cache.get("nmpa", key)
        if cached is not None:
            result.cached = True
            result.not_found = bool(cached.get("not_found"))
            result.record = None if result.not_found else cached
            return result
        try:
            status, body, _ctype = fetch(self.session, self.settings, self.base_url + self.path, {"regno": key})
        except HttpError as exc:
            result.error = f"NMPA lookup of {key} failed: {exc}"
            return result
        if status == 404:
            result.not_found = True
            self.cache.put("nmpa", key, {"not_found": True}, self.ttl)
            return result
        if status != 200:
            result.error = f"NMPA lookup of {key} failed: HTTP {status}"
            return result
        html = body.decode("utf-8", errors="replace")
        record = parse_detail_page(html)
        if record is None:
            if any(marker in html for marker in NOT_FOUND_MARKERS):
                result.not_found = True
                self.cache.put("nmpa", key, {"not_found": True}, self.ttl)
            else:
                result.error = f"NMPA lookup of {key} failed: the page has no registration table"
            return result
        if record.get("number", "").replace(" ", "") != key.replace(" ", ""):
            result.error = f"NMPA lookup of {key} failed: the page is for {record.get('number')!r}"
            return result
        record["parsed_class"] = parsed.device_class
        result.record = record
        self.cache.put("nmpa", key, record, self.ttl)
        return result


def parse_detail_page(html: str) -> dict | None:
    """The label/value rows of a registration detail page, or None when there are none."""
    soup = BeautifulSoup(html, "html.parser")
    record: dict[str, str] = {}
    for row in soup.find_all("tr"):
        cells = row.find_all(["th", "td"])
        if len(cells) < 2:
            continue
        label = cells[0].get_text(" ", strip=True).rstrip(":：")
        key = FIELD_LABELS.get(label)
        if key:
            record[key] = cells[1].get_text(" ", strip=True)[:2000]
    return record if "number" in record else None
