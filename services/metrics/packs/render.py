"""The committee pack as a document: accessible HTML and a tagged PDF (PDF/UA-1), from a
finished :class:`~services.metrics.packs.schemas.Pack`.

Renderers only format: every figure and sentence comes from the pack, charts are drawn by
``services.metrics.charts`` from the pack's own chart data, and the template (Jinja2,
autoescaped) lays them out in DOMAIN.md's section order. The PDF is the same HTML typeset
by WeasyPrint with its print stylesheet (A4, page numbers, a contents page with page
numbers, table header rows repeated, rows never split), as PDF/UA-1: tagged, with the
document language and the PDF/UA identification in its XMP metadata.

Why WeasyPrint rather than typst (both tried on the sample pack): one template gives both
the HTML and the PDF, so the two can never disagree, and the PDF's tags come from the
HTML's own semantics (sections, H1–H3, captions, row and column headers, lists, links,
the charts' titles as /Alt). typst compiled a converted pack about 20× faster (0.09–0.12 s
cold against ~2 s) from a self-contained wheel, but needs a second template in its own
markup for the same content and tags only column headers. A committee pack is rendered
a few times a quarter and frozen when issued, so the seconds matter less than one source.
WeasyPrint needs Pango from the OS (``.ci/run`` installs it here, the Dockerfile in the image).

Floors for the bench: :func:`render_html` is "the template filled from ready figures";
:func:`pdf_from_source` is "the renderer turning a finished HTML file into a PDF".
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from services.metrics.charts import render_svg
from services.metrics.charts.format import DASH, money, number, percent, signed
from services.metrics.charts.svg import slug
from services.metrics.packs.schemas import Chart, Pack, Sentence
from shared.page_headers import inline_style_policy

LONDON = ZoneInfo("Europe/London")
PDF_VARIANT = "pdf/ua-1"

# The pack's sections in the order committees read them (DOMAIN.md), with the key prefix
# that places a sentence ("finance.ytd") or a chart ("sla.P1") in its section.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("kpi", "KPI summary"),
    ("sla", "Service levels by priority"),
    ("nps", "Customer satisfaction (NPS)"),
    ("security", "Security incidents"),
    ("finance", "Financial outturn"),
    ("costs", "Cost tables"),
    ("risks", "Risk register"),
    ("commentary", "Commentary"),
    ("checks", "Consistency checks"),
)
_SECTION_ALIASES = {"outturn": "finance", "cost": "costs", "risk": "risks", "check": "checks"}
# Each section's place, computed once (looked up for every sentence and chart).
_SECTION_ORDER = {key: i for i, (key, _) in enumerate(SECTIONS)}
TREND_TEXT = {"up": ("↑", "Up"), "down": ("↓", "Down"), "same": ("→", "Same"), "new": ("•", "New")}


def section_of(key: str) -> str:
    """The section a sentence or chart key belongs to (its first dotted part); keys of no
    known section go to the KPI summary, at the front of the pack."""
    head = key.split(".", 1)[0]
    head = _SECTION_ALIASES.get(head, head)
    return head if head in _SECTION_ORDER else "kpi"


def _date(day: date | None) -> str:
    return DASH if day is None else f"{day.day} {day:%b %Y}"


def _month(day: date) -> str:
    return f"{day:%b %Y}"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return DASH
    local = moment.astimezone(LONDON)
    return f"{local.day} {local:%B %Y, %H:%M %Z}"


def _stated(text: str, unit: str) -> str:
    """A check's printed/computed/difference text in its unit (pence as money)."""
    if unit == "pence":
        try:
            return money(int(text))
        except ValueError:
            return text
    return text


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.metrics.packs", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        # The templates ship with the code: never re-read (stat) them on each render.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        money=money,
        number=number,
        percent=percent,
        signed=signed,
        date=_date,
        month=_month,
        when=_when,
        stated=_stated,
    )
    env.globals.update(dash=DASH, trend_text=TREND_TEXT, sections=SECTIONS)
    return env


_ENV = _environment()
_TEMPLATE = _ENV.get_template("pack.html")

# The page's one stylesheet, inline (the template's only <style>; it writes no style
# attributes). Read once; the policy allowing it by hash is computed once from exactly
# what the page holds, so a rendered page needs no scan of its ~100 kB for style sources:
# every text from the pack is autoescaped (no "<" or quote of its own can open a <style>
# or a style attribute), and the charts are checked for one as they are drawn.
STYLE = Markup(  # noqa: S704 - our own file, no data in it
    files("services.metrics.packs").joinpath("templates/pack.css").read_text(encoding="utf-8")
)
PAGE_POLICY = inline_style_policy(f"<style>{STYLE}</style>")


def _by_section(items: Iterable[Sentence]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for sentence in items:
        grouped[section_of(sentence.key)].append(sentence.text)
    return grouped


@dataclass(frozen=True)
class DrawnChart:
    id: str
    svg: Markup
    # Whether the SVG holds a style element or attribute (or might: the word anywhere, in
    # any case, is enough for the page to be scanned for style sources).
    styled: bool


# "style" in any case (ASCII only, as an SVG's markup is), found without copying the SVG.
_STYLE_WORD = re.compile("style", re.IGNORECASE | re.ASCII).search


def _charts(charts: Iterable[Chart]) -> dict[str, dict[str, DrawnChart]]:
    """Charts drawn as SVG, by section and then by key; the SVG is built element by element
    with every text escaped (services.metrics.charts.svg), so it is safe markup."""
    drawn: dict[str, dict[str, DrawnChart]] = defaultdict(dict)
    for chart in charts:
        text = render_svg(chart)
        styled = _STYLE_WORD(text) is not None
        svg = Markup(text)  # noqa: S704
        drawn[section_of(chart.key)][chart.key] = DrawnChart(slug(chart.key), svg, styled)
    return drawn


def context(pack: Pack) -> dict[str, Any]:
    return {
        "style": STYLE,
        "pack": pack,
        "h": pack.header,
        "sentences": _by_section(pack.sentences),
        "charts": _charts(pack.charts),
        "nps_all": [r for r in pack.nps if r.organisation is None],
        "nps_orgs": [r for r in pack.nps if r.organisation is not None],
        "commentary_sections": sorted({c.section for c in pack.commentary}, key=_section_rank),
    }


def _section_rank(key: str) -> tuple[int, str]:
    return (_SECTION_ORDER[section_of(key)], key)


def render_html(pack: Pack) -> str:
    """The pack as one complete, self-contained HTML document (styles and charts inline)."""
    return render_page(pack)[0]


def render_page(pack: Pack) -> tuple[str, str]:
    """The HTML document and the Content-Security-Policy that lets its inline styles
    through (and nothing else): :data:`PAGE_POLICY`, unless a chart brought styles of its
    own, in which case the page is scanned for them."""
    ready = context(pack)
    html = _TEMPLATE.render(**ready)
    styled = any(d.styled for section in ready["charts"].values() for d in section.values())
    return html, inline_style_policy(html) if styled else PAGE_POLICY


def render_pdf(pack: Pack) -> bytes:
    """The pack as a tagged PDF/UA-1 on A4 (the HTML with its print stylesheet)."""
    return pdf_from_source(render_html(pack))


def pdf_from_source(source: str | Path) -> bytes:
    """A finished HTML document (text, or a path to a file) typeset to PDF/UA-1 by
    WeasyPrint, with nothing else around it (the bench's floor for the PDF)."""
    # Imported here: WeasyPrint loads Pango through cffi, which only the PDF path needs.
    from weasyprint import HTML

    document = HTML(filename=str(source)) if isinstance(source, Path) else HTML(string=source)
    out = io.BytesIO()
    document.write_pdf(out, pdf_variant=PDF_VARIANT)
    return _scope_table_headers(out.getvalue())


def _scope_table_headers(pdf: bytes) -> bytes:
    """Give every table header cell its ``/Scope``: ``Column`` in a header row, ``Row`` in
    the body and footer (the template's ``<th scope>`` everywhere else).

    WeasyPrint ties data cells to their headers with ``/Headers`` and ``/ID``s, which PDF/UA
    accepts, but leaves ``/Scope`` off the header cells; checkers that read the header cells
    alone (Matterhorn 15-003) then cannot tell which way a header points.
    """
    import pikepdf

    def walk(node: Any, in_head: bool) -> None:
        if isinstance(node, pikepdf.Array):
            for kid in node:
                walk(kid, in_head)
            return
        if not isinstance(node, pikepdf.Dictionary) or "/S" not in node:
            return
        kind = str(node.S)
        if kind == "/TH":
            attributes = node.get("/A")
            if not isinstance(attributes, pikepdf.Dictionary):
                attributes = pikepdf.Dictionary(O=pikepdf.Name.Table)
                node.A = attributes
            attributes.Scope = pikepdf.Name.Column if in_head else pikepdf.Name.Row
        if "/K" in node:
            walk(node.K, in_head or kind == "/THead")

    with pikepdf.open(io.BytesIO(pdf)) as document:
        walk(document.Root.StructTreeRoot.K, False)
        out = io.BytesIO()
        document.save(out, deterministic_id=True)
    return out.getvalue()
