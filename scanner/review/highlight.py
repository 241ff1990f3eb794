"""Evidence highlighting built from escaped pieces: listing text is never marked safe."""
from __future__ import annotations

from collections.abc import Container

from markupsafe import Markup, escape

from scanner.listing import ATTRIBUTE_NAMES


def highlight(value: str, spans: list[tuple[int, int, str]], limit: int) -> tuple[Markup, bool]:
    """`value` as HTML with each (start, end, label) span in a <mark>; overlapping spans merge.
    Returns (html, truncated): text past `limit` characters is cut (its spans too)."""
    truncated = len(value) > limit
    value = value[:limit]
    merged: list[list] = []
    for start, end, label in sorted((max(0, s), min(len(value), e), lab) for s, e, lab in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if label not in merged[-1][2]:
                merged[-1][2].append(label)
        else:
            merged.append([start, end, [label]])
    parts: list[str] = []
    pos = 0
    for start, end, labels in merged:
        parts.append(escape(value[pos:start]))
        parts.append(Markup('<mark class="ev" title="{}">{}</mark>').format(", ".join(labels), value[start:end]))
        pos = end
    parts.append(escape(value[pos:]))
    return Markup("").join(parts), truncated


def listing_fields(listing: dict, marked: Container[str] = ()) -> list[tuple[str, str]]:
    """Every field of a stored listing as (evidence field path, text), in the contract's order;
    an attribute's name as a row of its own only when evidence is `marked` on it."""
    out: list[tuple[str, str]] = []
    for name in ("listing_id", "merchant_id", "title", "description", "category"):
        if listing.get(name) is not None:
            out.append((name, str(listing[name])))
    for k, v in (listing.get("attributes") or {}).items():
        if f"{ATTRIBUTE_NAMES}.{k}" in marked:
            out.append((f"{ATTRIBUTE_NAMES}.{k}", str(k)))
        out.append((f"attributes.{k}", str(v)))
    for name in ("keywords", "image_texts"):
        for i, v in enumerate(listing.get(name) or []):
            out.append((f"{name}[{i}]", str(v)))
    if listing.get("target_markets") is not None:
        out.append(("target_markets", ", ".join(str(m) for m in listing["target_markets"])))
    return out


def spans_by_field(findings: list[dict]) -> dict[str, list[tuple[int, int, str]]]:
    out: dict[str, list[tuple[int, int, str]]] = {}
    for f in findings:
        for e in f.get("evidence") or []:
            if not isinstance(e, dict) or not isinstance(e.get("start"), int) or not isinstance(e.get("end"), int):
                continue
            out.setdefault(str(e.get("field", "")), []).append(
                (e["start"], e["end"], f"{f.get('rule', '')} ({e.get('detector', '')})"))
    return out
