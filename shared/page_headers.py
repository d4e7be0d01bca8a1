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


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def inline_style_policy(html: str) -> str:
    """A policy for a self-contained page: no script, no fetches, no forms; its own
    ``<style>`` elements (and ``style`` attributes, by hash) allowed, images only as
    ``data:`` URLs. (Attribute values are hashed as written; a page whose attributes
    hold character references should use classes instead.)"""
    sources = sorted({_hash(s) for s in _STYLE_ELEMENT.findall(html)})
    attributes = sorted({_hash(a or b) for a, b in _STYLE_ATTRIBUTE.findall(html)})
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
