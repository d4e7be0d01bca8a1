"""Explain NPS report rows (issue #14 item 5): every row of ``GET /api/v1/nps`` (tickets
and surveys, a month or the whole period) links to its explanation beside the rows (the
CSV's columns unchanged); the explanation's counts alone recompute the row exactly; it
shows counts only; another organisation's row is a 403, a row the report lacks a 404."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.factories import assert_problem, make_org
from tests.ingest.test_tickets import HEADER, push
from tests.metrics.test_explain_surveys import SECRET, _campaign
from tests.metrics.test_sla_reports import setup_org

# March: 10, 9, 8, 6, 0 and a ticket without a rating; April: 9, 9, 7, 3.
TICKETS = [("05/03/2021 09:00", "05/03/2021 10:00", r) for r in ("10", "9", "8", "6", "0", "")] + [
    ("06/04/2021 09:00", "06/04/2021 10:00", r) for r in ("9", "9", "7", "3")
]


def _recompute(exp: dict[str, Any]) -> None:
    """The row from its explanation's counts alone."""
    x = {i["name"]: i["value"] for i in exp["items"]}
    ratings = {r: x[f"rating_{r}"] for r in range(11)}
    promoters = ratings[9] + ratings[10]
    passives = ratings[7] + ratings[8]
    detractors = sum(ratings[r] for r in range(7))
    n = promoters + passives + detractors
    assert (x["promoters"], x["passives"], x["detractors"], x["responses"]) == (
        promoters,
        passives,
        detractors,
        n,
    )
    assert (exp["promoters"], exp["passives"], exp["detractors"], exp["responses"]) == (
        promoters,
        passives,
        detractors,
        n,
    )
    if n == 0:
        assert exp["value"] is None
        return
    value = Decimal(100 * (promoters - detractors)) / Decimal(n)
    assert exp["value"] == float(value.quantize(Decimal("0.1"), ROUND_HALF_UP))


def _crawl(api: Any, report: dict[str, Any], who: dict[str, str]) -> list[dict[str, Any]]:
    links = report["explanations"]
    assert [(e["organisation_id"], e["month"]) for e in links] == [
        (r["organisation_id"], r["month"]) for r in report["items"]
    ]
    found = []
    for link, row in zip(links, report["items"], strict=True):
        got = api.metrics.get(link["explain"], headers=who)
        assert got.status_code == 200, got.text
        exp = got.json()
        assert (exp["organisation_id"], exp["month"], exp["value"]) == (
            row["organisation_id"],
            row["month"],
            row["nps"],
        )
        assert {i["role"] for i in exp["items"]} <= {
            "rating_count",
            "category_count",
            "not_counted",
        }
        _recompute(exp)
        found.append(exp)
    return found


def test_ticket_nps_rows_explained_and_recomputed(api):
    org, _ = setup_org(api)
    other = make_org(api)["id"]
    head = HEADER.strip() + ",nps_rating\n"
    rows = "".join(
        f"N{i},incident,P1,,Desk,Fixed,{logged},{resolved},resolved,{r}\n"
        for i, (logged, resolved, r) in enumerate(TICKETS)
    )
    push(api, org, (head + rows).encode())
    api.deliver()
    who = api.auth("participant", [org])
    got = api.metrics.get("/api/v1/nps", params={"source": "tickets"}, headers=who)
    assert got.status_code == 200, got.text
    report = got.json()
    assert [(r["month"], r["responses"], r["nps"]) for r in report["items"]] == [
        ("2021-03-01", 5, 0.0),
        ("2021-04-01", 4, 25.0),
        (None, 9, 11.1),
    ]
    march, april, whole = _crawl(api, report, who)
    assert {i["name"]: i["value"] for i in march["items"]} == {
        **{f"rating_{r}": 0 for r in range(11)},
        "rating_0": 1,
        "rating_6": 1,
        "rating_8": 1,
        "rating_9": 1,
        "rating_10": 1,
        "promoters": 2,
        "passives": 1,
        "detractors": 2,
        "responses": 5,
        "not_counted": 1,
    }
    assert (april["promoters"], april["passives"], april["detractors"]) == (2, 1, 1)
    assert (whole["month"], whole["value"], whole["responses"]) == (None, 11.1, 9)
    assert march["data_version"].startswith("tickets|opportunities 6|sha256 ")
    assert str(org) in march["items"][0]["source"] and "2021-03" in march["items"][0]["source"]

    # A report over April only: its whole-period row links with the same range.
    april_only = api.metrics.get(
        "/api/v1/nps",
        params={"source": "tickets", "month_from": "2021-04-01", "month_to": "2021-04-30"},
        headers=who,
    ).json()
    _, whole_april = _crawl(api, april_only, who)
    assert (whole_april["value"], whole_april["month_from"]) == (25.0, "2021-04-01")

    # The CSV keeps its columns: the links are JSON only.
    csv = api.metrics.get("/api/v1/nps", params={"source": "tickets", "format": "csv"}, headers=who)
    assert csv.text.splitlines()[0].lstrip("\ufeff") == (
        "organisation_id,month,responses,promoters,passives,detractors,nps"
    )
    assert "explain" not in csv.text

    # CSV of the explanation: its rows, counts only.
    rows_csv = api.metrics.get(
        report["explanations"][0]["explain"] + "&format=csv", headers=who
    ).text.splitlines()
    assert rows_csv[0].lstrip("\ufeff") == "role,name,label,value,unit,source"
    assert len(rows_csv) == 1 + 16

    # Another organisation's row: 403; a month the report lacks: 404; bad range: 422.
    path = "/api/v1/explain/nps"
    denied = api.metrics.get(
        path,
        params={"source": "tickets", "organisation_id": org, "month": "2021-03-01"},
        headers=api.auth("participant", [other]),
    )
    assert_problem(denied, 403, "organisation_forbidden")
    missing = api.metrics.get(
        path,
        params={"source": "tickets", "organisation_id": org, "month": "2021-05-01"},
        headers=who,
    )
    assert_problem(missing, 404, "no_figure")
    assert "2021-05" in missing.json()["detail"]
    backwards = api.metrics.get(
        path,
        params={
            "source": "tickets",
            "organisation_id": org,
            "month_from": "2021-04-01",
            "month_to": "2021-03-01",
        },
        headers=who,
    )
    assert backwards.status_code == 422, backwards.text


def test_survey_nps_rows_explained_counts_only(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    org = campaign["organisation_id"]
    who = api.auth("participant", [org])
    got = api.metrics.get("/api/v1/nps", params={"source": "survey"}, headers=who)
    assert got.status_code == 200, got.text
    report = got.json()
    assert report["items"], report
    found = _crawl(api, report, who)
    whole = found[-1]
    # 22 responses: 6 × 9, 5 × 7, 10 × 3, 1 × 10 → promoters 7, passives 5, detractors 10
    assert (whole["promoters"], whole["passives"], whole["detractors"]) == (7, 5, 10)
    assert whole["value"] == -13.6
    for exp in found:
        text = str(exp)
        assert SECRET not in text and "p0@council" not in text
    # a role without survey access is refused, as the report refuses it
    partner = api.metrics.get(
        report["explanations"][0]["explain"], headers=api.auth("partner", [org])
    )
    assert_problem(partner, 403, "role_forbidden")
