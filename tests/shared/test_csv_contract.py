"""The CSV contract of every download: numbers stay numbers (negatives included) when a
BI tool reads the file, text that could run as a formula is escaped, and ``?bom=1`` gives
Excel a UTF-8 byte order mark on every CSV endpoint."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.ingest.cycles.service import assign_codes
from shared.tabular import UTF8_BOM, csv_response
from tests.factories import accepted_submission, make_cycle, make_org, publish
from tests.ingest.test_tickets import HEADER, push
from tests.metrics.test_sla_reports import setup_org
from yardstick.demo.surveys import load_demo_surveys

RECENT = (date.today() - timedelta(days=30)).isoformat()
WELSH = "Cyngor Gwynedd — Ŵyn ŷd"
NUMERIC = (pl.Int64, pl.Float64)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def assert_numbers_stay_numbers(content: bytes, json_rows: list[dict[str, Any]]) -> int:
    """Every column that JSON gives as numbers is read by Polars as Int64/Float64 with the
    same values (nulls in place). Returns how many negative numbers the CSV carried."""
    frame = pl.read_csv(io.BytesIO(content), infer_schema_length=None)
    assert frame.height == len(json_rows)
    negatives = 0
    checked = 0
    for column in frame.columns:
        values = [r[column] for r in json_rows]
        present = [v for v in values if v is not None]
        if not present or not all(_is_number(v) for v in present):
            continue
        checked += 1
        assert frame[column].dtype in NUMERIC, (column, frame[column].dtype)
        assert frame[column].to_list() == pytest.approx(values), column
        negatives += sum(1 for v in present if v < 0)
    assert checked, "no numeric column was compared"
    return negatives


# ------------------------------------------------------------------ benchmark results


def _gap_results(api: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Six organisations whose user-satisfaction gap (satisfaction - importance) is
    negative: a published 2020 cycle, seen by the first organisation."""
    cycle = make_cycle(api, 2020)
    orgs = []
    for k in range(1, 7):
        org = make_org(api, name=f"{WELSH} {k}")
        answers = {"us_s1_satisfaction_mean": 4 + k * 0.1, "us_s1_importance_mean": 5.5}
        accepted_submission(api, org["id"], cycle["id"], "user_satisfaction", answers)
        orgs.append(org)
    api.deliver()
    publish(api, cycle["id"], RECENT)
    me = orgs[0]
    return me, api.auth("participant", [me["id"]])


def test_results_csvs_keep_negative_numbers_as_numbers(api):
    me, who = _gap_results(api)
    base = {"organisation_id": me["id"], "cycle": 2020}
    seen = {}
    for name, params in (
        ("comparison", base),
        ("distribution", {**base, "metric": "us_s1_gap"}),
        ("trends", {**base, "metric": "us_s1_gap"}),
    ):
        url = f"/api/v1/results/{name}"
        got = api.metrics.get(url, params={**params, "format": "csv"}, headers=who)
        assert got.status_code == 200, got.text
        flat = api.metrics.get(url, params=params, headers=who)
        seen[name] = assert_numbers_stay_numbers(got.content, flat.json()["items"])
    assert all(n > 0 for n in seen.values()), seen
    # the comparison's gap row, read as a BI tool would
    frame = pl.read_csv(
        io.BytesIO(
            api.metrics.get(
                "/api/v1/results/comparison", params={**base, "format": "csv"}, headers=who
            ).content
        )
    )
    gap = frame.filter(pl.col("metric_key") == "us_s1_gap").row(0, named=True)
    assert frame.schema["my_value"] == pl.Float64 and frame.schema["median"] == pl.Float64
    assert frame.schema["n"] == pl.Int64
    assert gap["my_value"] == pytest.approx(-1.4) and gap["median"] < 0


# ------------------------------------------------------------------ survey results


def test_survey_results_gap_columns_are_numbers(api, owner_engine):
    orgs = [make_org(api)["id"] for _ in range(2)]
    cycle = make_cycle(api)
    with Session(owner_engine) as session, session.begin():
        load_demo_surveys(session, orgs, cycle["id"])
        assign_codes(session, cycle["id"])
    who = api.auth("admin")
    negatives = {}
    for name in ("factors", "breakdowns"):
        url = f"/api/v1/survey-results/campaigns/1/{name}"
        got = api.metrics.get(url, params={"format": "csv"}, headers=who)
        assert got.status_code == 200, got.text
        rows = api.metrics.get(url, headers=who).json()["items"]
        negatives[name] = assert_numbers_stay_numbers(got.content, rows)
    survey = {"source": "survey"}
    got = api.metrics.get("/api/v1/nps", params={**survey, "format": "csv"}, headers=who)
    assert got.status_code == 200, got.text
    assert_numbers_stay_numbers(
        got.content, api.metrics.get("/api/v1/nps", params=survey, headers=who).json()["items"]
    )
    factors = pl.read_csv(
        io.BytesIO(
            api.metrics.get(
                "/api/v1/survey-results/campaigns/1/factors", params={"format": "csv"}, headers=who
            ).content
        )
    )
    gap_columns = [c for c in factors.columns if "gap" in c]
    assert gap_columns and all(factors.schema[c] in NUMERIC for c in gap_columns), factors.schema
    assert negatives["factors"] > 0, negatives


# ------------------------------------------------------------------ SLA and feedback reports


def test_sla_and_feedback_csvs_keep_negative_numbers_as_numbers(api):
    org, _ = setup_org(api)
    head = HEADER.strip() + ",nps_rating\n"
    rows = "".join(
        f"N{i},incident,P1,,Desk,Fixed,05/03/2021 09:00,05/03/2021 10:00,resolved,{r}\n"
        for i, r in enumerate([9, 6, 3, 0])
    )
    push(api, org, (head + rows).encode())
    api.deliver()
    who = api.auth("admin")
    negatives = {}
    for path, extra in (
        ("/api/v1/sla/monthly", {}),
        ("/api/v1/sla/logged", {}),
        ("/api/v1/nps", {"source": "tickets"}),
        ("/api/v1/sla/performance", {}),
        ("/api/v1/sla/backlog", {"as_of": "2021-03-05T09:30:00+00:00"}),
        ("/api/v1/nps", {"source": "feedback"}),
    ):
        params = {"organisation_id": org, **extra}
        got = api.metrics.get(path, params={**params, "format": "csv"}, headers=who)
        assert got.status_code == 200, got.text
        body = api.metrics.get(path, params=params, headers=who).json()
        negatives[f"{path} {extra}"] = assert_numbers_stay_numbers(got.content, body["items"])
    # 1 promoter and 3 detractors of 4: NPS -50 (the month and the whole period)
    assert negatives["/api/v1/nps {'source': 'tickets'}"] == 2
    assert negatives["/api/v1/nps {'source': 'feedback'}"] >= 1
    frame = pl.read_csv(
        io.BytesIO(
            api.metrics.get(
                "/api/v1/nps",
                params={"source": "tickets", "organisation_id": org, "format": "csv"},
                headers=who,
            ).content
        )
    )
    assert frame.schema["nps"] == pl.Float64 and frame["nps"].to_list() == [-50.0, -50.0]


# ------------------------------------------------------------------ text and BOM


def _body(response: Any) -> bytes:
    async def collect() -> bytes:
        return b"".join([bytes(chunk) async for chunk in response.body_iterator])

    return asyncio.run(collect())


def test_text_that_could_run_is_still_escaped_numbers_are_not():
    response = csv_response(
        ["label", "value"], [("-0.88", -0.88), ("=SUM(A1)", 1), ("@x", None)], "t"
    )
    body = _body(response).decode()
    assert body == "label,value\r\n'-0.88,-0.88\r\n'=SUM(A1),1\r\n'@x,\r\n"


def test_bom_on_request_keeps_welsh_and_accents_exact():
    rows = [(1, WELSH), (2, "Café"), (3, "-1 ŵ")]
    plain = _body(csv_response(["id", "name"], rows, "t"))
    marked = _body(csv_response(["id", "name"], rows, "t", bom=True))
    assert marked.startswith(b"\xef\xbb\xbf") and not plain.startswith(UTF8_BOM)
    assert marked[3:] == plain
    table = list(csv.reader(io.StringIO(marked.decode("utf-8-sig"))))
    assert table == [["id", "name"], ["1", WELSH], ["2", "Café"], ["3", "'-1 ŵ"]]


def _data_quality_row(owner_engine: Any, org: int, source: str, reference: str) -> None:
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sla_outcomes (organisation_id, source_system, reference, type, "
                "priority, logged_at, is_open, on_hold, sla_status, data_quality_reason) "
                "VALUES (:o, :s, :r, 'incident', 'P1', '2021-03-05T09:00:00+00', false, "
                "false, 'data_quality', 'no resolution time')"
            ),
            {"o": org, "s": source, "r": reference},
        )


def test_bom_on_every_csv_endpoint_welsh_text_round_trips(api, owner_engine):
    _data_quality_row(owner_engine, 7, WELSH, "Café-1")
    who = api.auth("admin")
    url = "/api/v1/sla/data-quality"
    plain = api.metrics.get(url, params={"organisation_id": 7, "format": "csv"}, headers=who)
    marked = api.metrics.get(
        url, params={"organisation_id": 7, "format": "csv", "bom": "1"}, headers=who
    )
    assert marked.status_code == plain.status_code == 200, marked.text
    assert marked.content[:3] == b"\xef\xbb\xbf" and plain.content[:3] != b"\xef\xbb\xbf"
    assert marked.content[3:] == plain.content
    (row,) = csv.DictReader(io.StringIO(marked.content.decode("utf-8-sig")))
    assert (row["source_system"], row["reference"]) == (WELSH, "Café-1")
    # the cached results path adds the mark as the body goes out, and the cache keeps none
    me, participant = _gap_results(api)
    params = {"organisation_id": me["id"], "cycle": 2020}
    params = {**params, "format": "csv"}
    url = "/api/v1/results/comparison"
    first = api.metrics.get(url, params=params, headers=participant)
    again = api.metrics.get(url, params={**params, "bom": "1"}, headers=participant)
    assert again.content == UTF8_BOM + first.content
    after = api.metrics.get(url, params=params, headers=participant)
    assert after.content == first.content


def test_every_csv_operation_offers_bom(api):
    csv_operations = 0
    for name in ("ingest", "metrics", "survey"):
        spec = api.apps[name].openapi()
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                ok = op.get("responses", {}).get("200", {}).get("content", {})
                if "text/csv" not in ok:
                    continue
                names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
                assert "bom" in names, f"{method.upper()} {path} has no bom parameter"
                csv_operations += 1
    # results (3), survey results (4, and issue 15's weighted results and five group views:
    # 6), SLA (5), feedback satisfaction (1), NPS (1), a workshop's named views (1), committee
    # packs (4: the list, a version's checks and changes, the draft's checks), nearest peers
    # (1), explanations (9: issue 14's NPS row, group breakdown cell, group factor and weighted row
    # added to the five); ingest's governance lists (9: partners, finance groups, reports
    # and lines, cost tables, risks, the risk register, security incidents, commentary) and
    # reviewer checks (5: a submission's flags, data quality per submission and per
    # organisation, validation violations, follow-ups); issue 13's SLA views (6: per-ticket
    # outcomes, breach forecast, OLAs, OLAs per ticket, totals over a date range,
    # organisation value maps);
    # survey has none today
    assert csv_operations == 55
