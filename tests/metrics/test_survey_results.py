"""Survey results over demo-sized data: breakdown suppression, CSV escaping, benchmark
quartiles (type 7) with anonymous codes and suppression under 5 organisations, NPS."""

from __future__ import annotations

import csv
import io

import polars as pl
from sqlalchemy.orm import Session

from services.ingest.cycles.service import assign_codes
from tests.factories import assert_problem, make_cycle, make_org
from yardstick.demo.surveys import load_demo_surveys


def _load(api, owner_engine, n_orgs: int):
    orgs = [make_org(api)["id"] for _ in range(n_orgs)]
    cycle = make_cycle(api)
    with Session(owner_engine) as session, session.begin():
        inserted = load_demo_surveys(session, orgs, cycle["id"])
        assign_codes(session, cycle["id"])
    return orgs, cycle, inserted


def test_results_breakdowns_and_csv(api, owner_engine):
    orgs, _, inserted = _load(api, owner_engine, 2)
    assert inserted == 460
    headers = api.auth("participant", [orgs[0]])
    r = api.metrics.get("/api/v1/survey-results/campaigns/1", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["response_rate"]["text"] == "25.0% (200 out of 800)"
    assert body["final"] is True
    cells = {(b["attribute"], b["value"]): b for b in body["breakdowns"]}
    assert all(b["n"] is None or b["n"] >= 10 for b in body["breakdowns"])
    assert cells[("attr.location", "Home")]["n"] is not None
    r_csv = api.metrics.get(
        "/api/v1/survey-results/campaigns/1/factors?format=csv", headers=headers
    )
    r_json = api.metrics.get("/api/v1/survey-results/campaigns/1/factors", headers=headers)
    rows = list(csv.DictReader(io.StringIO(r_csv.text)))
    assert list(rows[0]) == r_json.json()["columns"]
    assert len(rows) == 20 and rows[0]["factor"] == "S1"
    assert_problem(
        api.metrics.get(
            "/api/v1/survey-results/campaigns/1", headers=api.auth("participant", [orgs[1]])
        ),
        404,
    )


def test_benchmark_quartiles_are_type_7_with_codes(api, owner_engine):
    orgs, cycle, _ = _load(api, owner_engine, 5)
    r = api.metrics.get(
        f"/api/v1/survey-results/benchmark?cycle_id={cycle['id']}",
        headers=api.auth("participant", [orgs[0]]),
    )
    assert r.status_code == 200, r.text
    rows = {row["metric"]: row for row in r.json()["rows"]}
    rate = rows["response_rate"]
    assert rate["n"] == 5 and rate["median"] == 25.0 and rate["suppressed"] is False
    overall = [v["value"] for v in rows["overall"]["values"]]
    expected = pl.Series(overall).quantile(0.25, interpolation="linear")
    assert abs(rows["overall"]["lower_quartile"] - round(expected, 2)) <= 0.01
    assert sum(v["yours"] for v in rows["overall"]["values"]) == 1
    assert all(not str(v["code"]).isdigit() for v in rows["overall"]["values"])
    # Four organisations would be too few.
    with owner_engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(
            text("UPDATE survey_campaigns SET cycle_id = NULL WHERE organisation_id = :o"),
            {"o": orgs[0]},
        )
    r = api.metrics.get(
        f"/api/v1/survey-results/benchmark?cycle_id={cycle['id']}", headers=api.auth("admin")
    )
    assert all(row["suppressed"] and row["median"] is None for row in r.json()["rows"])


def test_nps_by_month_and_organisation(api, owner_engine):
    orgs, _, _ = _load(api, owner_engine, 2)
    r = api.metrics.get("/api/v1/survey-results/nps", headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert {row["organisation_id"] for row in rows} == set(orgs)
    assert {row["month"] for row in rows} == {"2020-10", None}
    total = next(r for r in rows if r["organisation_id"] == orgs[0] and r["month"] is None)
    expected = round((total["promoters"] - total["detractors"]) * 100 / total["ratings"], 1)
    assert abs(total["nps"] - expected) < 0.051


def test_csv_cells_that_could_be_formulas_are_escaped(api, owner_engine):
    from shared.tabular import csv_cell as _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@SUM") == "'@SUM" and _cell(-0.5) == "-0.5"
