"""The pack as HTML: one complete document, sections in DOMAIN.md's order, semantic tables,
headings in order, figures formatted exactly, and (in Chromium) axe-core with 0 violations
at desktop and phone widths."""

from __future__ import annotations

import importlib.util
import itertools
import pathlib
from collections.abc import Iterator
from typing import Any

import lxml.html
import pytest

from services.metrics.packs.render import (
    PAGE_POLICY,
    SECTIONS,
    STYLE,
    render_html,
    render_page,
    section_of,
)
from services.metrics.packs.schemas import Commentary, Pack, Sentence
from shared.page_headers import inline_style_policy
from shared.testing.browser import chromium, find_chromium, missing_reason
from tests.metrics.packs.sample import sample_pack

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@pytest.fixture(scope="module")
def pack() -> Pack:
    return sample_pack()


@pytest.fixture(scope="module")
def html(pack: Pack) -> str:
    return render_html(pack)


@pytest.fixture(scope="module")
def doc(html: str) -> Any:
    return lxml.html.document_fromstring(html)


def text_of(element: Any) -> str:
    return " ".join(element.text_content().split())


def row_texts(doc: Any, table_id: str) -> list[list[str]]:
    table = doc.get_element_by_id(table_id)
    return [[text_of(c) for c in tr if c.tag in ("th", "td")] for tr in table.iter("tr")]


def test_a_complete_document(html: str, doc: Any) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert doc.get("lang") == "en-GB"
    assert text_of(doc.find(".//title")) == (
        "Shared ICT Service performance pack: Q1 2024/25 (P1–P3, April–June 2024)"
    )
    assert doc.find(".//meta[@name='viewport']") is not None
    assert not doc.xpath("//script|//link[@rel='stylesheet']|//img[starts-with(@src,'http')]")


def test_sections_in_domain_order(doc: Any) -> None:
    ids = [s.get("id") for s in doc.xpath("//main/section")]
    assert ids == [key for key, _ in SECTIONS]
    contents = [a.get("href") for a in doc.xpath("//nav[@class='contents']//a")]
    assert contents == [f"#{key}" for key, _ in SECTIONS]


def test_headings_never_skip_a_level(doc: Any) -> None:
    levels = [int(h.tag[1]) for h in doc.xpath("//h1|//h2|//h3|//h4|//h5|//h6")]
    assert levels[0] == 1 and levels.count(1) == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, levels


def test_tables_have_captions_header_scopes_and_a_named_scroll_region(doc: Any) -> None:
    tables = doc.xpath("//table")
    assert len(tables) >= 20
    for table in tables:
        caption = table.find("caption")
        assert caption is not None and text_of(caption), table.get("id")
        for th in table.iter("th"):
            assert th.get("scope") in ("col", "row", "rowgroup"), (table.get("id"), text_of(th))
        region = table.getparent()
        assert region.get("role") == "region" and region.get("tabindex") == "0"
        assert region.get("aria-labelledby") == caption.get("id")


def test_kpi_summary_shows_rag_as_text(doc: Any) -> None:
    rows = {r[0]: r for r in row_texts(doc, "kpi-measures")[1:]}
    assert rows["P3 resolved within 2 working days"][1:6] == [
        "71.12%",
        "80%",
        "■ Red",
        "71.2%",
        "-0.08 pts",
    ]
    assert rows["P3 resolved within 2 working days"][6].startswith("P3 backlog")
    assert rows["P1 resolved within 4 hours"][3] == "▲ Amber"
    assert rows["P2 resolved within 8 hours"][3:6] == ["● Green", "94.1%", "+1.28 pts"]
    assert rows["Net Promoter Score (all partners, quarter)"][2:4] == ["–", "No target"]
    tiles = [text_of(t) for t in doc.xpath("//ul[@class='tiles']/li")]
    assert tiles[0] == "11 of 12 P1 incidents met their SLA"


def test_sla_table_with_year_subtotals_and_grand_total(doc: Any) -> None:
    rows = row_texts(doc, "sla-P1")
    assert rows[0] == ["Month", "Met", "Missed", "Total", "% met", "% missed"]
    assert rows[1] == ["Jun 2023", "14", "1", "15", "93.33%", "6.67%"]
    assert rows[-3:] == [
        ["2023 subtotal", "79", "5", "84", "94.05%", "5.95%"],
        ["2024 subtotal", "44", "4", "48", "91.67%", "8.33%"],
        ["Total", "123", "9", "132", "93.18%", "6.82%"],
    ]
    assert row_texts(doc, "sla-P3")[1] == [
        "Apr 2024",
        "1,585",
        "1,117",
        "2,702",
        "58.66%",
        "41.34%",
    ]


def test_outturn_money_is_exact_pounds(doc: Any) -> None:
    rows = {r[0]: r for r in row_texts(doc, "outturn")}
    assert rows["INCOME FROM PARTNERS"][2:] == [
        "-£120,000",
        "-£120,000",
        "£0",
        "-£30,000",
        "-£90,000",
    ]
    assert rows["AGENCY STAFF"][2:] == ["£0", "£60,000", "£60,000", "£48,900", "-£48,900"]
    # computed remaining shown; the printed value that disagrees is beside it, never swapped in
    assert rows["STATUTORY SICK PAY"][6] == "£7,750 (printed £8,250)"
    assert rows["Staffing total"][1:] == [
        "£1,228,000",
        "£1,324,000",
        "£96,000",
        "£354,692",
        "£873,308",
    ]
    assert rows["Total service charge"][1:] == [
        "£1,794,250",
        "£1,901,750",
        "£107,500",
        "£512,086",
        "£1,282,164",
    ]
    assert row_texts(doc, "actuals-period")[-1] == ["All lines", "£165,000", "£170,500", "£176,586"]
    assert row_texts(doc, "recharges")[1][0] == "RECHARGE OF HOUSING SYSTEM HOSTING"


def test_cost_table_totals(doc: Any) -> None:
    rows = row_texts(doc, "cost-1")
    assert rows[0] == ["Organisation", "Category", "P1", "P2", "P3", "Total"]
    assert ["Brent total", "£18,570", "£10,210", "£6,735", "£35,515"] in rows
    assert rows[-1] == ["Grand total", "£46,835", "£26,035", "£17,435", "£90,305"]


def test_risks_checks_and_sentences(pack: Pack, doc: Any) -> None:
    loss = {r[0]: r for r in row_texts(doc, "risks-3")[1:]}
    assert loss["L2"][2:7] == ["5", "4", "20", "Very high", "→ Same (was 20)"]
    assert loss["L1"][4:7] == ["10", "High", "→ Same (was 10)"]
    checks = row_texts(doc, "check-list")
    assert len(checks) == 1 + 4
    assert checks[1][1:7] == [
        "staffing / STATUTORY SICK PAY",
        "remaining",
        "£8,250",
        "£7,750",
        "£500",
        "–",
    ]
    assert checks[4][3:7] == ["£354,192", "£354,692", "-£500", "£2"]
    for sentence in pack.sentences:
        section = doc.get_element_by_id(section_of(sentence.key))
        assert sentence.text in text_of(section), sentence.key


def test_charts_inline_in_their_sections(doc: Any) -> None:
    def svg_ids(section: str) -> list[str]:
        return [s.get("id") for s in doc.get_element_by_id(section).iter("{*}svg", "svg")]

    assert svg_ids("sla") == ["chart-sla-P1", "chart-sla-P2", "chart-sla-P3", "chart-sla-P4"]
    assert svg_ids("nps") == ["chart-nps"]
    assert svg_ids("finance") == ["chart-outturn"]


def test_text_is_escaped_and_missing_figures_are_dashes(pack: Pack) -> None:
    hostile = pack.model_copy(
        update={
            "commentary": [
                Commentary(
                    section="kpi", measure="sla.P3", body="<script>x</script> & co", author="A"
                )
            ],
            "sentences": [Sentence(key="nps.note", text="Scores <b>rose</b>.")],
            "outturn": None,
        }
    )
    html = render_html(hostile)
    doc = lxml.html.document_fromstring(html)
    assert not doc.xpath("//script") and not doc.xpath("//section[@id='nps']//b")
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in html
    assert "No outturn has been loaded for 2024/25." in text_of(doc.get_element_by_id("finance"))


def test_the_page_policy_is_the_one_a_scan_of_the_page_finds(pack: Pack) -> None:
    """The policy computed once from the stylesheet is exactly what scanning the rendered
    page for style sources gives, hostile text included (escaped, it opens none)."""
    hostile = pack.model_copy(
        update={
            "sentences": [
                Sentence(key="kpi.note", text='<style>p{}</style> x style="color:red"'),
                *pack.sentences,
            ]
        }
    )
    for p in (pack, hostile):
        html, policy = render_page(p)
        assert policy is PAGE_POLICY
        assert policy == inline_style_policy(html)
    assert html.count("<style>") == 1 and f"<style>{STYLE}</style>" in html
    assert PAGE_POLICY.startswith("default-src 'none'; style-src 'sha256-")


def test_a_chart_with_styles_of_its_own_has_the_page_scanned(
    pack: Pack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.metrics.packs import render

    draw = render.render_svg
    monkeypatch.setattr(
        render,
        "render_svg",
        lambda chart: draw(chart).replace("<svg ", '<svg STYLE="max-width:100%" ', 1),
    )
    html, policy = render_page(pack)
    assert policy != PAGE_POLICY and policy == inline_style_policy(html)
    assert "'unsafe-hashes'" in policy


# ---------------------------------------------------------------- in Chromium

CHROMIUM = find_chromium()


def _axe_script() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        pytest.skip("axe-playwright-python is not installed (it bundles axe-core)")
    return pathlib.Path(spec.origin).with_name("axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip(missing_reason())
    with chromium() as browser:
        yield browser


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_axe_finds_no_violations(browser: Any, html: str, width: int, height: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.set_content(html)
        page.evaluate(_axe_script())
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
        )
        problems = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
        ]
        assert problems == []
        assert len(result["passes"]) > 20
        # the page itself never scrolls sideways; wide tables scroll inside their region
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        if width < 400:
            scrolls = page.evaluate(
                "[...document.querySelectorAll('.table-wrap')]"
                ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.querySelector('table').id)"
            )
            assert "outturn" in scrolls
    finally:
        page.close()
