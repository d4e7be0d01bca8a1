"""Security headers of every HTML page a service serves (the survey's respondent pages, the
committee packs): nothing cached or framed, no referrer, no sniffing, no powerful features.

Each page adds its own Content-Security-Policy: :func:`inline_style_policy` builds one for
a self-contained document (inline styles and SVG, no script, nothing fetched).
"""

from __future__ import annotations

import base64
import hashlib
import re

COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
_STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)

# The same two searches, run on the page's UTF-8 lower-cased as bytes (the fast path): a
# literal "<style" / "style" lets the regex engine skip ahead instead of trying every
# character as it must for a case-insensitive letter, several times faster on a committee
# pack (~90 kB). ``\s`` of a str pattern is any Unicode whitespace; in bytes it is spelt out.
_NON_ASCII_SPACES = (
    "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
_WS = b"(?:[ \t\n\r\x0b\x0c\x1c-\x1f]|%b)" % b"|".join(
    re.escape(c.encode()) for c in _NON_ASCII_SPACES
)
_STYLE_ELEMENT_BYTES = re.compile(rb"<style[^>]*>(.*?)</style>", re.DOTALL)
_STYLE_ATTRIBUTE_BYTES = re.compile(
    rb"style" + _WS + rb"*=" + _WS + rb"""*(?:"([^"]*)"|'([^']*)')"""
)
_SPACE_BEFORE = re.compile(_WS + rb"\Z")


def _style_sources(html: str) -> tuple[list[str], list[tuple[str, str]]]:
    """``_STYLE_ELEMENT.findall(html)`` and ``_STYLE_ATTRIBUTE.findall(html)``: found in the
    page's UTF-8 with ASCII letters lower-cased (positions kept), read back by decoding the
    matched bytes. Falls back to the str patterns where the two could differ: the long s
    (U+017F matches "s" case-insensitively) or text that is not encodable (lone surrogates)."""
    if "\u017f" in html:
        return _STYLE_ELEMENT.findall(html), _STYLE_ATTRIBUTE.findall(html)
    try:
        raw = html.encode()
    except UnicodeEncodeError:
        return _STYLE_ELEMENT.findall(html), _STYLE_ATTRIBUTE.findall(html)
    lowered = raw.lower()
    elements = [raw[m.start(1) : m.end(1)].decode() for m in _STYLE_ELEMENT_BYTES.finditer(lowered)]
    attributes: list[tuple[str, str]] = []
    search = _STYLE_ATTRIBUTE_BYTES.search
    space_before = _SPACE_BEFORE.search
    pos = 0
    while (m := search(lowered, pos)) is not None:
        start = m.start()
        # The str pattern's leading \s: a whitespace character must end right here.
        if start == 0 or space_before(lowered, max(0, start - 3), start) is None:
            pos = start + 1
            continue
        a, b = m.span(1), m.span(2)
        attributes.append(
            (
                raw[a[0] : a[1]].decode() if a[0] >= 0 else "",
                raw[b[0] : b[1]].decode() if b[0] >= 0 else "",
            )
        )
        pos = m.end()
    return elements, attributes


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def inline_style_policy(html: str) -> str:
    """A policy for a self-contained page: no script, no fetches, no forms; its own
    ``<style>`` elements (and ``style`` attributes, by hash) allowed, images only as
    ``data:`` URLs. (Attribute values are hashed as written; a page whose attributes
    hold character references should use classes instead.)"""
    elements, found = _style_sources(html)
    sources = sorted({_hash(s) for s in elements})
    attributes = sorted({_hash(a or b) for a, b in found})
    if attributes:
        sources += ["'unsafe-hashes'", *attributes]
    style = " ".join(sources) or "'none'"
    return (
        f"default-src 'none'; style-src {style}; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def page_headers(html: str) -> dict[str, str]:
    """Every header a self-contained HTML document is served with."""
    return {**COMMON_HEADERS, "Content-Security-Policy": inline_style_policy(html)}
