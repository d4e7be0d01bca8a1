"""The pack as a tagged PDF (WeasyPrint, PDF/UA-1): the same figures as the JSON (read back
with pdftotext), tagged (structure tree, language, PDF/UA identification, header scopes,
chart alternatives), A4, numbered pages, a contents page whose page numbers are right,
header rows repeated and rows never split across pages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from services.metrics.charts.format import money, number, percent
from services.metrics.packs.render import SECTIONS, pdf_from_source, render_html, render_pdf
from services.metrics.packs.schemas import Pack, Risk
from tests.metrics.packs.sample import sample_pack

PDFTOTEXT = shutil.which("pdftotext")
pytestmark = pytest.mark.skipif(
    PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed"
)
A4 = (595.28, 841.89)


def long_pack() -> Pack:
    """The sample pack with 30 more financial risks, so the risk table runs over pages."""
    pack = sample_pack()
    financial = pack.risks[0]
    extra = [
        Risk(
            **{
                **financial.risks[0].model_dump(),
                "reference": f"F{n}",
                "title": f"Extra financial risk number {n}",
                "developments": "Reviewed monthly by the board; no change this quarter. " * 2,
            }
        )
        for n in range(3, 33)
    ]
    risks = [financial.model_copy(update={"risks": financial.risks + extra}), *pack.risks[1:]]
    return pack.model_copy(update={"risks": risks})


@pytest.fixture(scope="module")
def pack() -> Pack:
    return long_pack()


@pytest.fixture(scope="module")
def pdf(pack: Pack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "pack.pdf"
    path.write_bytes(render_pdf(pack))
    return path


@pytest.fixture(scope="module")
def pages(pdf: Path) -> list[str]:
    """Each page's text, laid out as printed."""
    out = subprocess.run(
        [PDFTOTEXT, "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return out.split("\f")[:-1]


@pytest.fixture(scope="module")
def plain(pdf: Path) -> str:
    """The text in reading order (a cell's wrapped lines together), whitespace squeezed."""
    out = subprocess.run([PDFTOTEXT, str(pdf), "-"], check=True, capture_output=True, text=True)
    return squeeze(out.stdout)


def squeeze(text: str) -> str:
    return " ".join(text.split())


def test_pdf_holds_the_jsons_figures(pack: Pack, pages: list[str], plain: str) -> None:
    text = squeeze(" ".join(pages))
    data = pack.model_dump(mode="json")
    total = data["outturn"]["total"]
    # the grand total row, in order, exactly as the JSON's pence
    assert (
        "Total service charge "
        + " ".join(
            money(total[k])
            for k in (
                "budget_pence",
                "forecast_pence",
                "variance_pence",
                "actuals_pence",
                "remaining_pence",
            )
        )
        in text
    )
    assert "Total service charge £1,794,250 £1,901,750 £107,500 £512,086 £1,282,164" in text
    for group in data["outturn"]["groups"]:
        for line in group["lines"]:
            assert f"{line['line']} " in text
            for key in ("budget_pence", "forecast_pence", "actuals_pence"):
                assert money(line[key]) in text, (line["line"], key)
    # every month of P1: met, missed, total and % met, on one row
    for month in pack.sla[0].months:
        row = (
            f"{month.month:%b %Y} {month.met} {month.missed} {month.total} {percent(month.met_pct)}"
        )
        assert row in text, row
    assert "Jun 2023 14 1 15 93.33% 6.67%" in text
    cost = data["cost_tables"][0]
    assert (
        f"Grand total {' '.join(money(a) for a in cost['column_totals_pence'])} "
        f"{money(cost['grand_total_pence'])}" in text
    )
    # a risk's priority and band on its row
    l2 = next(
        line for page in pages for line in page.splitlines() if line.strip().startswith("L2 ")
    )
    assert re.search(r"\b5\s+4\s+20\s+Very high\b", l2), l2
    for measure in data["kpi"]["measures"]:
        assert measure["label"] in plain
    for sentence in data["sentences"]:
        assert squeeze(sentence["text"]) in plain
    for check in pack.checks:
        assert check.message in plain
    # chart labels are text in the PDF too
    assert "Target 95%" in text and "£1.79M" in text and "Brent 53.5" in text
    # the KPI tiles, side by side: P1 met of P1 incidents, NPS, severe security incidents
    kpi = data["kpi"]
    tiles = rf"{kpi['p1_met']} of {kpi['p1_incidents']}\s+{number(pack.kpi.nps)}\s+"
    assert re.search(tiles + rf"{kpi['severe_security_incidents']}\b", " ".join(pages))
    assert tiles.startswith("11 of 12")


def test_a4_numbered_pages_and_a_contents_page(pdf: Path, pages: list[str]) -> None:
    with pikepdf.open(pdf) as doc:
        assert len(doc.pages) > 10
        for page in doc.pages:
            box = [float(v) for v in page.mediabox]
            assert (round(box[2] - box[0], 2), round(box[3] - box[1], 2)) == A4
    count = len(pages)
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {count}" in page
    first = pages[0]
    assert "Contents" in first
    for key, label in SECTIONS:
        found = re.search(rf"^\s*{re.escape(label)}[ .]*?(\d+)\s*$", first, re.M)
        assert found, label
        listed = int(found.group(1))
        # the section's heading is on the page the contents names
        heading = re.compile(rf"^\s*{re.escape(label)}\s*$", re.M)
        actual = next(i for i, p in enumerate(pages[1:], start=2) if heading.search(p))
        assert listed == actual, (label, listed, actual)


def test_header_rows_repeat_and_rows_never_split(pack: Pack, pages: list[str]) -> None:
    references = [r.reference for r in pack.risks[0].risks]
    holding = [i for i, p in enumerate(pages) if "Extra financial risk number" in p]
    assert len(holding) >= 2, "the long risk table should run over pages"
    for i in holding:
        assert re.search(
            r"Ref\s+Risk\s+Impact\s+Probability\s+Priority\s+Band\s+Trend\s+Owner", pages[i]
        )
    for ref in references[2:]:
        # a row's reference, title, scores and owner all on the same page
        title = f"Extra financial risk number {ref[1:]}"
        on = [i for i, p in enumerate(pages) if re.search(rf"^\s*{ref}\s", p, re.M)]
        assert len(on) == 1, ref
        page = pages[on[0]]
        assert title in page and "Mitigation plan agreed" in page and "Reviewed monthly" in page


def _walk(node: Any, found: list[pikepdf.Dictionary]) -> None:
    if isinstance(node, pikepdf.Array):
        for kid in node:
            _walk(kid, found)
    elif isinstance(node, pikepdf.Dictionary) and "/S" in node:
        found.append(node)
        if "/K" in node:
            _walk(node.K, found)


def test_tagged_pdf_ua(pdf: Path, pack: Pack) -> None:
    with pikepdf.open(pdf) as doc:
        root = doc.Root
        assert "/StructTreeRoot" in root
        assert str(root.Lang) == "en-GB"
        assert bool(root.MarkInfo.Marked) is True
        assert bool(root.ViewerPreferences.DisplayDocTitle) is True
        with doc.open_metadata() as xmp:
            assert xmp.get("pdfuaid:part") == "1"
            assert xmp.get("dc:title", "").startswith("Shared ICT Service performance pack")
        elements: list[pikepdf.Dictionary] = []
        _walk(root.StructTreeRoot.K, elements)
        kinds = [str(e.S) for e in elements]
        assert kinds.count("/H1") == 1 and kinds.count("/H2") == 1 + len(SECTIONS)
        assert kinds.count("/Table") >= 20 and "/Caption" in kinds and "/THead" in kinds
        headers = [e for e in elements if str(e.S) == "/TH"]
        assert headers and all(str(e.A.Scope) in ("/Column", "/Row") for e in headers)
        figures = [e for e in elements if str(e.S) == "/Figure"]
        assert sorted(str(f.Alt) for f in figures) == sorted(c.title for c in pack.charts)


def test_the_renderer_alone_on_a_finished_file(tmp_path: Path) -> None:
    pack = sample_pack()
    source = tmp_path / "pack.html"
    source.write_text(render_html(pack), encoding="utf-8")
    out = pdf_from_source(source)
    assert out.startswith(b"%PDF-")
    path = tmp_path / "alone.pdf"
    path.write_bytes(out)
    text = subprocess.run(
        [PDFTOTEXT, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "£1,282,164" in text
