"""Survey results over demo-sized data: breakdown suppression, CSV escaping, benchmark
quartiles (type 7) with anonymous codes and suppression under 5 organisations, NPS."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
from sqlalchemy import text
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
        f"/api/v1/survey-results/benchmark?cycle={cycle['year']}",
        headers=api.auth("participant", [orgs[0]]),
    )
    assert r.status_code == 200, r.text
    rows = {row["metric"]: row for row in r.json()["items"]}
    rate = rows["response_rate"]
    assert rate["n"] == 5 and rate["median"] == 25.0 and rate["suppressed"] is False
    overall = [v["value"] for v in rows["overall"]["values"]]
    expected = pl.Series(overall).quantile(0.25, interpolation="linear")
    assert abs(rows["overall"]["lower_quartile"] - round(expected, 2)) <= 0.01
    assert sum(v["yours"] for v in rows["overall"]["values"]) == 1
    assert all(not str(v["code"]).isdigit() for v in rows["overall"]["values"])
    # Four organisations would be too few.
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE survey_campaigns SET cycle_id = NULL WHERE organisation_id = :o"),
            {"o": orgs[0]},
        )
    r = api.metrics.get(
        f"/api/v1/survey-results/benchmark?cycle={cycle['year']}", headers=api.auth("admin")
    )
    assert all(row["suppressed"] and row["median"] is None for row in r.json()["items"])


def _expected_nps(owner_engine) -> list[dict]:
    """NPS rows worked out here from the stored answers, independently of the engine:
    promoters 9-10, passives 7-8, detractors 0-6, nps = % promoters - % detractors to one
    decimal, half away from zero; per organisation and month, then per organisation."""
    with owner_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT organisation_id, response_date, answers->>'nps' FROM survey_responses")
        ).all()
    groups: dict[tuple[int, str | None], list[int]] = {}
    for org, day, rating in stored:
        for month in (day.strftime("%Y-%m-01"), None):
            ratings = groups.setdefault((org, month), [])
            if rating is not None and 0 <= int(rating) <= 10:
                ratings.append(int(rating))
    rows = []
    for (org, month), ratings in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1] or "")
    ):
        promoters = sum(r >= 9 for r in ratings)
        detractors = sum(r <= 6 for r in ratings)
        score = None
        if ratings:
            exact = Decimal(100 * (promoters - detractors)) / Decimal(len(ratings))
            score = float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        rows.append(
            {
                "organisation_id": org,
                "month": month,
                "responses": len(ratings),
                "promoters": promoters,
                "passives": sum(7 <= r <= 8 for r in ratings),
                "detractors": detractors,
                "nps": score,
            }
        )
    return rows


def test_nps_by_month_and_organisation(api, owner_engine):
    orgs, _, _ = _load(api, owner_engine, 2)
    # Spread the first organisation's responses over two months, so "by month" is tested.
    with owner_engine.begin() as conn:
        moved = conn.execute(
            text(
                "UPDATE survey_responses SET response_date = DATE '2020-09-30' "
                "WHERE organisation_id = :o AND response_date < DATE '2020-10-15'"
            ),
            {"o": orgs[0]},
        ).rowcount
    assert moved > 0
    expected = _expected_nps(owner_engine)
    assert [(r["organisation_id"], r["month"]) for r in expected] == [
        (orgs[0], "2020-09-01"),
        (orgs[0], "2020-10-01"),
        (orgs[0], None),
        (orgs[1], "2020-10-01"),
        (orgs[1], None),
    ]
    survey = {"source": "survey"}
    r = api.metrics.get("/api/v1/nps", params=survey, headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == list(expected[0])
    assert r.json()["items"] == expected
    # a participant sees only their own organisation's rows, exactly the same figures
    mine = api.metrics.get(
        "/api/v1/nps", params=survey, headers=api.auth("participant", [orgs[1]])
    ).json()["items"]
    assert mine == [row for row in expected if row["organisation_id"] == orgs[1]]


HOSTILE_COMMENTS = [
    '=HYPERLINK("http://example.invalid","click")',
    "+SUM(A1:A9)",
    "-2+3 is what I think of the service desk",
    "@SUM(1)",
]


def test_csv_cells_that_could_be_formulas_are_escaped(api, owner_engine):
    orgs, _, _ = _load(api, owner_engine, 1)
    with owner_engine.begin() as conn:
        campaign = conn.execute(
            text("SELECT id FROM survey_campaigns WHERE organisation_id = :o"), {"o": orgs[0]}
        ).scalar_one()
        # as the survey service stores a submitted form (the demo responses have no comment)
        for k, comment in enumerate(HOSTILE_COMMENTS):
            conn.execute(
                text(
                    "INSERT INTO survey_responses (organisation_id, id, campaign_id,"
                    " response_date, answers) VALUES (:o, :id, :c, :d, CAST(:a AS jsonb))"
                ),
                {
                    "o": orgs[0],
                    "id": uuid.uuid4(),
                    "c": campaign,
                    "d": date(2020, 10, 20 + k),
                    "a": json.dumps({"overall": 4, "comment": comment}),
                },
            )
    headers = api.auth("participant", [orgs[0]])
    url = f"/api/v1/survey-results/campaigns/{campaign}/comments"
    as_json = api.metrics.get(url, headers=headers)
    assert as_json.status_code == 200, as_json.text
    assert [r["comment"] for r in as_json.json()["items"]] == HOSTILE_COMMENTS  # JSON: as sent
    got = api.metrics.get(url, params={"format": "csv"}, headers=headers)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(got.text)))
    assert table[0] == as_json.json()["columns"]
    column = table[0].index("comment")
    assert [line[column] for line in table[1:]] == ["'" + c for c in HOSTILE_COMMENTS]
