"""Issue #10 item 3, metrics: one envelope on every list and report, one format switch (the
suffix paths are gone), one NPS family giving the old figures, `_2dp` figures exact."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from services.ingest.cycles.service import assign_codes
from services.metrics.main import build
from tests.factories import assert_problem, make_cycle, make_org
from tests.ingest.test_tickets import HEADER, push
from yardstick.demo.surveys import load_demo_surveys

ENVELOPE = {"items", "total", "limit", "offset", "next"}


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


# GETs of one resource named by its query rather than its path (a service's live pack
# draft for a period): not collections.
SINGLE_RESOURCES = {"/api/v1/committee-packs/draft"}


def _list_operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every GET that answers a collection (its path does not end in a path parameter) with
    a 2xx JSON response: (path, the response's schema)."""
    found = []
    for path, item in doc["paths"].items():
        op = item.get("get")
        if op is None or path.endswith("}") or path in ("/healthz", "/readyz", *SINGLE_RESOURCES):
            continue
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json")
            if status.startswith("2") and media is not None:
                found.append((path, _resolve(media["schema"], doc)))
    return found


def test_every_metrics_list_and_report_is_the_envelope():
    doc = build().openapi()
    found = _list_operations(doc)
    assert len(found) >= 15  # runs, jobs, results, peer groups, SLA, survey tables, NPS
    wrong = [p for p, schema in found if not schema.get("properties", {}).keys() >= ENVELOPE]
    assert wrong == []
    for path, schema in found:
        items = _resolve(schema["properties"]["items"]["items"], doc)
        assert items.get("properties"), f"{path}: untyped rows"
        assert items.get("additionalProperties") is not True, path


def test_one_format_switch_and_one_nps_family_in_the_spec():
    paths = build().openapi()["paths"]
    assert not [p for p in paths if p.endswith((".csv", ".json"))]
    # One NPS report; an NPS row's explanation lives with the other explanations.
    nps = [p for p in paths if p.endswith("/nps") and not p.startswith("/api/v1/explain/")]
    assert nps == ["/api/v1/nps"]
    survey_benchmark = paths["/api/v1/survey-results/benchmark"]["get"]["parameters"]
    names = {p["name"] for p in survey_benchmark}
    assert "cycle" in names and "cycle_id" not in names
    for path, item in paths.items():
        op = item.get("get", {})
        ok = op.get("responses", {}).get("200", {}).get("content", {})
        if "text/csv" in ok:
            assert "format" in {p["name"] for p in op["parameters"]}, path


def test_suffix_paths_and_old_nps_endpoints_are_gone(api):
    org = make_org(api)["id"]
    who = api.auth()
    params = {"organisation_id": org, "cycle": 2020, "metric": "users_per_ict_fte"}
    for table in ("comparison", "distribution", "trends"):
        for suffix in (".csv", ".json"):
            got = api.metrics.get(f"/api/v1/results/{table}{suffix}", params=params, headers=who)
            assert_problem(got, 404, "not_found")
    for old in ("/api/v1/sla/nps", "/api/v1/sla/feedback/nps", "/api/v1/survey-results/nps"):
        assert_problem(api.metrics.get(old, headers=who), 404, "not_found")


def _nps_expected(org: int, by_month: dict[str, list[int | None]]) -> list[dict[str, Any]]:
    """Worked out here, not by the engine: per month, then the whole period (month null)."""

    def row(month: str | None, ratings: list[int]) -> dict[str, Any]:
        promoters = sum(r >= 9 for r in ratings)
        detractors = sum(r <= 6 for r in ratings)
        score = None
        if ratings:
            exact = Decimal(100 * (promoters - detractors)) / len(ratings)
            score = float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        return {
            "organisation_id": org,
            "month": month,
            "responses": len(ratings),
            "promoters": promoters,
            "passives": sum(7 <= r <= 8 for r in ratings),
            "detractors": detractors,
            "nps": score,
        }

    rated = {m: [r for r in rs if r is not None] for m, rs in by_month.items()}
    everything = [r for rs in rated.values() for r in rs]
    return [*(row(m, rs) for m, rs in sorted(rated.items())), row(None, everything)]


def test_ticket_nps_gives_the_figures_of_the_old_sla_nps(api):
    org = make_org(api)["id"]
    march = [10, 9, 9, 8, 6, 0, 3, None]  # 3 promoters, 3 detractors of 7: 0.0
    april = [10, 7, 7, 6, 6, 6]  # 1 promoter, 3 detractors of 6: -33.333… → -33.3
    may: list[int | None] = [None, None]  # tickets but no ratings: no score
    lines = []
    for month, ratings in (("03", march), ("04", april), ("05", may)):
        for i, r in enumerate(ratings):
            lines.append(
                f"N{month}{i},incident,P1,,Desk,Fixed,05/{month}/2021 09:00,"
                f"05/{month}/2021 10:00,resolved,{'' if r is None else r}\n"
            )
    push(api, org, (HEADER.strip() + ",nps_rating\n" + "".join(lines)).encode())
    api.deliver()
    got = api.metrics.get(
        "/api/v1/nps",
        params={"source": "tickets", "organisation_id": org},
        headers=api.auth("reader", [org]),
    )
    assert got.status_code == 200, got.text
    body = got.json()
    expected = _nps_expected(org, {"2021-03-01": march, "2021-04-01": april, "2021-05-01": may})
    assert [r["nps"] for r in expected] == [0.0, -33.3, None, -15.4]
    assert body["items"] == expected
    assert (body["total"], body["limit"], body["offset"], body["next"]) == (4, 500, 0, None)
    # a page of two says where the next one is (a relative link)
    page = api.metrics.get(
        "/api/v1/nps",
        params={"source": "tickets", "organisation_id": org, "limit": 2},
        headers={**api.auth("reader", [org]), "Host": "evil.example"},
    ).json()
    assert page["items"] == expected[:2]
    assert page["next"].startswith("/api/v1/nps?") and "offset=2" in page["next"]
    rest = api.metrics.get(page["next"], headers=api.auth("reader", [org])).json()
    assert rest["items"] == expected[2:] and rest["next"] is None
    # months asked for: the whole-period row covers only them
    april_only = api.metrics.get(
        "/api/v1/nps",
        params={
            "source": "tickets",
            "organisation_id": org,
            "month_from": "2021-04-10",
            "month_to": "2021-04-30",
        },
        headers=api.auth("reader", [org]),
    ).json()["items"]
    assert april_only == _nps_expected(org, {"2021-04-01": april})
    # a partner may not read survey NPS; a month range the wrong way round is a 422
    assert_problem(
        api.metrics.get(
            "/api/v1/nps", params={"source": "survey"}, headers=api.auth("partner", [org])
        ),
        403,
        "role_forbidden",
    )
    assert_problem(
        api.metrics.get(
            "/api/v1/nps",
            params={"source": "tickets", "month_from": "2021-05-01", "month_to": "2021-04-01"},
            headers=api.auth(),
        ),
        422,
    )


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _2dp_values(node: Any, found: list[tuple[str, Decimal]], key: str = "") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _2dp_values(v, found, k)
    elif isinstance(node, list):
        for v in node:
            _2dp_values(v, found, key)
    elif key.endswith("_2dp") and node is not None:
        found.append((key, node))


@pytest.mark.parametrize("table", ["", "/factors", "/breakdowns"])
def test_2dp_figures_are_numbers_rounded_once(api, owner_engine, table):
    orgs = [make_org(api)["id"] for _ in range(2)]
    cycle = make_cycle(api)
    with Session(owner_engine) as session, session.begin():
        load_demo_surveys(session, orgs, cycle["id"])
        assign_codes(session, cycle["id"])
    got = api.metrics.get(
        f"/api/v1/survey-results/campaigns/1{table}", headers=api.auth("participant", [orgs[0]])
    )
    assert got.status_code == 200, got.text
    # read the numbers exactly as sent: -0.82, never -0.8200000000000001 or "-0.82"
    body = json.loads(got.text, parse_float=Decimal)
    found: list[tuple[str, Decimal]] = []
    _2dp_values(body, found)
    assert len(found) >= 10
    assert all(isinstance(v, Decimal | int) for _, v in found), found
    assert [(k, v) for k, v in found if _decimals(Decimal(v)) > 2] == []
    if not table:
        rate = body["response_rate"]
        assert isinstance(rate["percent"], Decimal) and _decimals(rate["percent"]) <= 1
        assert body["computed_at"].endswith("Z")
