"""The one string per listing that the classifiers read, and the way back to the listing's fields.

`listing_text` joins title, description (HTML tags and entities blanked out with spaces of
the same length, so offsets stay those of the original), attribute "name: value" pairs,
keywords and image texts with " \\n ". `field_span` maps a span of that string back to a
field and offsets into the field's original value.
"""
from __future__ import annotations

import re
from typing import Any

from scanner.listing import ATTRIBUTE_NAMES

SEPARATOR = " \n "
# Operational bound (not policy): the classifiers read at most this much of each part.
MAX_PART_CHARS = 4_000
_MARKUP = re.compile(r"<[^<>]{0,2000}>|&#?\w{1,10};")


def _blank(m: re.Match) -> str:
    return " " * (m.end() - m.start())


def _get(listing: Any, name: str, default):
    value = listing.get(name, default) if isinstance(listing, dict) else getattr(listing, name, default)
    return default if value is None else value


def segments(listing: Any, markup=_blank) -> list[tuple[str, int, str]]:
    """(field path, offset of the value inside the field's own text, text used) per part.

    For attributes the text is "name: value" and the offset is negative: -(len(name) + 2),
    so that the value starts at offset 0. `markup`: what a tag or entity of the description
    becomes (re.sub's replacement)."""
    out = [("title", 0, _get(listing, "title", "")[:MAX_PART_CHARS])]
    desc = _get(listing, "description", "")
    if desc:
        out.append(("description", 0, _MARKUP.sub(markup, desc[:MAX_PART_CHARS])))
    for name, value in _get(listing, "attributes", {}).items():
        head = f"{name}: "
        out.append((f"attributes.{name}", -len(head), (head + value)[:MAX_PART_CHARS]))
    for key in ("keywords", "image_texts"):
        for i, value in enumerate(_get(listing, key, [])):
            out.append((f"{key}[{i}]", 0, value[:MAX_PART_CHARS]))
    return out


def listing_text(listing: Any) -> str:
    """One string per listing (a Listing or a dict with the contract's field names)."""
    return SEPARATOR.join(text for _, _, text in segments(listing))


def model_text(listing: Any) -> str:
    """What the classifiers are given to read: `listing_text` with each tag or entity one space
    instead of as many as it has characters. Their features collapse white space, so they are
    the same (tested), and one regex pass without a call per tag is cheaper; the offsets are
    not the listing's (explanations read listing_text)."""
    return SEPARATOR.join(text for _, _, text in segments(listing, markup=" "))


def field_span(listing: Any, start: int, end: int) -> tuple[str, int, int] | None:
    """Map [start, end) of listing_text(listing) to (field, start, end) in the original value.

    A span is clipped to the part it starts in; one that starts on an attribute's name maps to
    the name (`attribute_names.<name>`), clipped to it; one on a separator maps to None."""
    pos = 0
    for field, shift, text in segments(listing):
        lo, hi = pos, pos + len(text)
        if lo <= start < hi:
            if start - lo < -shift - 2:     # on the name of an attribute ("name: value")
                return f"{ATTRIBUTE_NAMES}.{field.split('.', 1)[1]}", start - lo, min(end - lo, -shift - 2)
            s, e = max(start - lo + shift, 0), min(end, hi) - lo + shift
            return (field, s, e) if e > s else None
        pos = hi + len(SEPARATOR)
    return None
