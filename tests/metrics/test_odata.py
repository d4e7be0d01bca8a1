"""The OData v4 feed end to end: $metadata, every entity set against a Polars query on the
same rows, paging to the end, the JSON API's figures and access rules, bad input, whole
downloads with ETag and gzip.

One data set for the module (benchmark cycles, tickets, surveys), built once per worker
and rebuilt if another module's test emptied the database meanwhile."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import polars as pl
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.ingest.cycles.service import assign_codes
from services.metrics.odata.schemas import ENTITY_SETS
from tests.factories import accepted_submission, make_cycle, make_org, publish
from tests.ingest.test_tickets import HEADER, push
from tests.metrics.test_sla_reports import setup_org
from yardstick.demo.surveys import load_demo_surveys

pytestmark = pytest.mark.xdist_group("odata")

ROOT = "/odata/v4"
RECENT = (date.today() - timedelta(days=30)).isoformat()
LONG_AGO = (date.today() - timedelta(days=800)).isoformat()
SET_NAMES = [
    "Metrics",
    "BenchmarkStatistics",
    "Comparisons",
    "Distributions",
    "Trends",
    "SlaMonthly",
    "SlaTickets",
    "SlaLogged",
    "SlaBacklog",
    "Nps",
    "SurveyFactors",
    "SurveyBreakdowns",
    "PackKpis",
    "PackSlaMonths",
    "PackOutturn",
    "PackRisks",
]
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
_DATA: dict[str, Any] = {}


def _users(k: int) -> int:
    # raw answers no figure can equal: the ratio shown is users / 7
    return 1000 * k + 37


def _build(api: Any, owner_engine: Any) -> dict[str, Any]:
    from shared.testing.plugin import truncate_all

    truncate_all(owner_engine)
    old = make_cycle(api, 2018)
    cycle = make_cycle(api, 2020)
    orgs = []
    for k in range(1, 11):
        org = make_org(api, name=f"Borough {k} Council", type="L" if k <= 6 else "D")
        for c in (old, cycle):
            accepted_submission(
                api,
                org["id"],
                c["id"],
                "estate",
                {"users": _users(k), "ict_fte": 7, "service_desk_fte": 2 + k % 3},
            )
        orgs.append(org)
    api.deliver()
    publish(api, old["id"], LONG_AGO)
    publish(api, cycle["id"], RECENT)
    me = orgs[0]["id"]
    # tickets: two organisations with SLA policies
    ticket_orgs = []
    for _ in range(2):
        org, _cal = setup_org(api)
        ticket_orgs.append(org)
    head = HEADER.strip() + ",nps_rating\n"
    for n, org in enumerate(ticket_orgs):
        rows = "".join(
            f"T{n}{i:03d},incident,P{1 + i % 2},,Desk {i % 3},Fixed,"
            f"{1 + i % 27:02d}/{1 + i % 5:02d}/2021 09:{i % 60:02d},"
            f"{1 + i % 27:02d}/{1 + i % 5:02d}/2021 {10 + i % 9}:00,resolved,{i % 11}\n"
            for i in range(60)
        )
        rows += f"=X{n},incident,P1,,=Team,Fixed,03/03/2021 09:00,,open,\n"
        push(api, org, (head + rows).encode())
    api.deliver()
    with Session(owner_engine) as session, session.begin():
        load_demo_surveys(session, [me, orgs[1]["id"]], cycle["id"])
        # two respondents at a location of their own: a cell too small to show
        for _ in range(2):
            session.execute(
                text(
                    "INSERT INTO survey_responses (organisation_id, id, campaign_id, "
                    "response_date, answers) SELECT :org, gen_random_uuid(), id, "
                    '\'2020-10-20\', \'{"overall": 5, "attr.location": "Boat"}\' '
                    "FROM survey_campaigns WHERE organisation_id = :org"
                ),
                {"org": me},
            )
        assign_codes(session, cycle["id"])
    key = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Power BI", "role": "participant", "organisations": [me]},
        headers=api.auth(),
    ).json()["key"]
    tkey = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Tickets", "role": "participant", "organisations": [ticket_orgs[0]]},
        headers=api.auth(),
    ).json()["key"]
    return {
        "orgs": orgs,
        "me": me,
        "ticket_orgs": ticket_orgs,
        "key": key,
        "ticket_key": tkey,
        "cycle": cycle,
    }


@pytest.fixture
def feed(_stack, owner_engine) -> dict[str, Any]:
    with owner_engine.connect() as conn:
        present = conn.execute(
            text("SELECT count(*) FROM organisations WHERE name = 'Borough 1 Council'")
        ).scalar()
    if not present or not _DATA:
        _DATA.clear()
        _DATA.update(_build(_stack, owner_engine))
    return {**_DATA, "api": _stack}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"powerbi:{key}".encode()).decode()}


def get(api: Any, path: str, headers: dict[str, str], **params: Any) -> Any:
    return api.metrics.get(f"{ROOT}/{path}", params=params, headers=headers)


def crawl(api: Any, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every row of a query, following @odata.nextLink to the end."""
    rows: list[dict[str, Any]] = []
    r = get(api, path, headers, **params)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["value"]
        link = body.get("@odata.nextLink")
        if not link:
            return rows
        parts = urlsplit(link)
        r = api.metrics.get(parts.path, params=parse_qsl(parts.query), headers=headers)


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None)


def odata_error(r: Any, status: int, target: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] and error["message"]
    if target is not None:
        assert error["target"] == target, error
    return error


# ------------------------------------------------------------------ $metadata


def test_metadata_lists_every_entity_set_with_key_and_typed_properties(feed):
    api = feed["api"]
    r = get(api, "$metadata", basic(feed["key"]))
    assert r.status_code == 200 and r.headers["odata-version"] == "4.0"
    assert r.headers["content-type"].startswith("application/xml")
    doc = ET.fromstring(r.content)
    schema = doc.find(f".//{EDM}Schema")
    container = schema.find(f"{EDM}EntityContainer")
    sets = {e.get("Name"): e.get("EntityType") for e in container.findall(f"{EDM}EntitySet")}
    assert sorted(sets) == sorted(SET_NAMES)
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    declared = {s.name: s for s in ENTITY_SETS}
    for name, type_ref in sets.items():
        entity = types[type_ref.removeprefix("Yardstick.")]
        keys = [p.get("Name") for p in entity.find(f"{EDM}Key").findall(f"{EDM}PropertyRef")]
        props = {p.get("Name"): p for p in entity.findall(f"{EDM}Property")}
        assert keys == list(declared[name].key)
        for k in keys:
            assert props[k].get("Nullable") == "false", (name, k)
        for prop in declared[name].properties:
            assert props[prop.name].get("Type") == prop.type
    # a few types spelled out, so a wrong declaration cannot agree with itself
    tickets = types["SlaTicket"]
    typed = {p.get("Name"): p.get("Type") for p in tickets.findall(f"{EDM}Property")}
    assert typed["due_at"] == "Edm.DateTimeOffset"
    assert typed["elapsed_sla_seconds"] == "Edm.Int64"
    assert typed["logged_date"] == "Edm.Date"
    assert keys_of(types["Distribution"]) == [
        "organisation_id",
        "cycle_year",
        "peer_group_key",
        "metric_key",
        "position",
    ]
    # JSON CSDL says the same
    j = get(api, "$metadata", basic(feed["key"]), **{"$format": "json"}).json()
    assert j["$EntityContainer"] == "Yardstick.Container"
    assert sorted(k for k in j["Yardstick"]["Container"] if not k.startswith("$")) == sorted(
        SET_NAMES
    )
    assert j["Yardstick"]["SlaTicket"]["$Key"] == ["organisation_id", "source_system", "reference"]
    # the service document lists every set
    root = get(api, "", basic(feed["key"])).json()
    assert [s["name"] for s in root["value"]] == [s.name for s in ENTITY_SETS]
    assert root["@odata.context"].endswith("/odata/v4/$metadata")


def keys_of(entity: ET.Element) -> list[str]:
    return [p.get("Name") for p in entity.find(f"{EDM}Key").findall(f"{EDM}PropertyRef")]


# ------------------------------------------------------------------ each set vs Polars

# (set, who, options, Polars filter on the whole set, order (column, descending)...)
CASES: list[tuple[str, str, dict[str, str], Any, list[tuple[str, bool]]]] = [
    (
        "Metrics",
        "me",
        {"$filter": "cycle_year eq 2020 and (startswith(metric_key,'users') or unit eq 'gbp')"},
        (pl.col("cycle_year") == 2020)
        & (pl.col("metric_key").str.starts_with("users") | (pl.col("unit") == "gbp")),
        [("metric_key", True)],
    ),
    (
        "BenchmarkStatistics",
        "me",
        {"$filter": "peer_group_key in ('all','type:L') and n ge 5 and not suppressed"},
        pl.col("peer_group_key").is_in(["all", "type:L"])
        & (pl.col("n") >= 5)
        & ~pl.col("suppressed"),
        [("median", True), ("peer_group_key", False)],
    ),
    (
        "Comparisons",
        "me",
        {"$filter": "cycle_year eq 2020 and (my_value gt 2 or contains(metric_name,'cost'))"},
        (pl.col("cycle_year") == 2020)
        & ((pl.col("my_value") > 2).fill_null(False) | pl.col("metric_name").str.contains("cost")),
        [("peer_group_key", False), ("metric_key", True)],
    ),
    (
        "Distributions",
        "me",
        {"$filter": "metric_key eq 'users_per_ict_fte' and value le 900 and is_mine eq false"},
        (pl.col("metric_key") == "users_per_ict_fte")
        & (pl.col("value") <= 900)
        & (pl.col("is_mine") == False),  # noqa: E712
        [("value", True), ("peer_group_key", False)],
    ),
    (
        "Trends",
        "me",
        {"$filter": "metric_key eq 'users_per_ict_fte' and cycle_year ne 2019"},
        (pl.col("metric_key") == "users_per_ict_fte") & (pl.col("cycle_year") != 2019),
        [("cycle_year", True), ("peer_group_key", False)],
    ),
    (
        "SlaMonthly",
        "admin",
        {"$filter": "month ge 2021-02-01 and month lt 2021-05-01 and priority eq 'P1'"},
        # ISO dates order as text: the oracle compares the JSON's strings
        (pl.col("month") >= "2021-02-01")
        & (pl.col("month") < "2021-05-01")
        & (pl.col("priority") == "P1"),
        [("met", True), ("month", False), ("organisation_id", False)],
    ),
    (
        "SlaTickets",
        "admin",
        {
            "$filter": "logged_date ge 2021-02-01 and logged_date lt 2021-04-01 "
            "and (team eq 'Desk 1' or elapsed_wall_seconds gt 30000)"
        },
        (pl.col("logged_date") >= "2021-02-01")
        & (pl.col("logged_date") < "2021-04-01")
        & (
            (pl.col("team") == "Desk 1") | (pl.col("elapsed_wall_seconds") > 30000).fill_null(False)
        ),
        [("elapsed_wall_seconds", True), ("reference", False)],
    ),
    (
        "SlaLogged",
        "admin",
        {"$filter": "logged gt 1 and month ne 2021-01-01"},
        (pl.col("logged") > 1) & pl.col("month").ne_missing(pl.lit("2021-01-01")),
        [("logged", True), ("key", False)],
    ),
    (
        "SlaBacklog",
        "admin",
        {"$filter": "open ge 0"},
        pl.col("open") >= 0,
        [("key", True)],
    ),
    (
        "Nps",
        "me",
        {"$filter": "source in ('survey','tickets') and (month eq null or responses gt 3)"},
        pl.col("source").is_in(["survey", "tickets"])
        & (pl.col("month").is_null() | (pl.col("responses") > 3)),
        [("nps", False), ("key", False)],
    ),
    (
        "SurveyFactors",
        "me",
        {"$filter": "gap_2dp lt 0 and endswith(factor,'1')"},
        (pl.col("gap_2dp") < 0) & pl.col("factor").str.ends_with("1"),
        [("weight_gap_2dp", False), ("factor", False)],
    ),
    (
        "SurveyBreakdowns",
        "me",
        {"$filter": "suppressed eq false or n eq null"},
        (pl.col("suppressed") == False) | pl.col("n").is_null(),  # noqa: E712
        [("attribute", True), ("value", False)],
    ),
]


def _who(feed: dict[str, Any], who: str) -> dict[str, str]:
    return basic(feed["key"]) if who == "me" else feed["api"].auth()


def _base_params(name: str, feed: dict[str, Any], who: str) -> dict[str, str]:
    # Admins name the organisation on the per-organisation benchmark sets.
    if who == "admin" and name in ("Comparisons", "Distributions", "Trends"):
        return {"$filter": f"organisation_id eq {feed['me']}"}
    return {}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_filter_select_orderby_top_skip_match_polars(feed, case):
    name, who, options, expr, order = case
    api, headers = feed["api"], _who(feed, who)
    everything = frame(crawl(api, name, headers))
    assert everything.height > 0, name
    expected = everything.filter(expr)
    assert expected.height >= 2, (name, expected.height)
    keys = next(s for s in ENTITY_SETS if s.name == name).key
    by = [c for c, _ in order] + [k for k in keys if k not in {c for c, _ in order}]
    desc = [d for _, d in order] + [False] * (len(by) - len(order))
    expected = expected.sort(by, descending=desc, nulls_last=desc, maintain_order=True)
    chosen = [c for c, _ in order] + [keys[0]]
    last = next(c for c in reversed(everything.columns) if c != "as_of")  # as_of is "now"
    chosen = list(dict.fromkeys([*chosen, last]))
    skip, top = 1, max(1, expected.height - 2)
    params = {
        **options,
        "$select": ",".join(chosen),
        "$orderby": ",".join(f"{c} {'desc' if d else 'asc'}" for c, d in order),
        "$skip": str(skip),
        "$top": str(top),
        "$count": "true",
    }
    r = get(api, name, headers, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["@odata.count"] == expected.height
    assert body["@odata.context"].endswith(f"$metadata#{name}({','.join(chosen)})")
    got = body["value"]
    want = expected.slice(skip, top).select(chosen).to_dicts()
    assert got == want
    assert all(list(row) == chosen for row in got)


# ------------------------------------------------------------------ the JSON API's figures

# Names appear in the JSON API only inside an open results workshop (a named view, to its
# consenting members); the feed never carries them. Outside a workshop they are null.
NAMES = ("organisation_name", "peer_name")


def without_names(row: dict[str, Any]) -> dict[str, Any]:
    assert all(row.get(k) is None for k in NAMES), row
    return {k: v for k, v in row.items() if k not in NAMES}


def test_figures_are_the_json_apis(feed):
    api, me = feed["api"], feed["me"]
    key = basic(feed["key"])
    comparison = api.metrics.get(
        "/api/v1/results/comparison",
        params={"organisation_id": me, "cycle": 2020, "peer_group": "type:L", "limit": 1000},
        headers=key,
    ).json()["items"]
    feed_rows = crawl(
        api, "Comparisons", key, **{"$filter": "cycle_year eq 2020 and peer_group_key eq 'type:L'"}
    )
    assert len(feed_rows) == len(comparison) > 50
    by_metric = {r["metric_key"]: r for r in feed_rows}
    for row in comparison:
        mine = by_metric[row["metric_key"]]
        assert {k: mine[k] for k in row if k not in NAMES} == without_names(row)
    ratio = by_metric["users_per_ict_fte"]
    assert (ratio["my_value"], ratio["n"], ratio["rank"]) == (_users(1) / 7, 6, 6)

    dist = api.metrics.get(
        "/api/v1/results/distribution",
        params={"organisation_id": me, "cycle": 2020, "metric": "users_per_ict_fte"},
        headers=key,
    ).json()["items"]
    fd = crawl(
        api,
        "Distributions",
        key,
        **{
            "$filter": "metric_key eq 'users_per_ict_fte' and peer_group_key eq 'all' "
            "and cycle_year eq 2020"
        },
    )
    assert [{k: r[k] for k in dist[0] if k not in NAMES} for r in fd] == [
        without_names(r) for r in dist
    ]
    assert len(dist) == 10

    trend = api.metrics.get(
        "/api/v1/results/trends",
        params={"organisation_id": me, "cycle": 2020, "metric": "users_per_ict_fte"},
        headers=key,
    ).json()["items"]
    ft = crawl(
        api,
        "Trends",
        key,
        **{"$filter": "metric_key eq 'users_per_ict_fte' and peer_group_key eq 'all'"},
    )
    assert [{k: r[k] for k in trend[0] if k not in NAMES} for r in ft] == [
        without_names(r) for r in trend
    ]
    assert [r["cycle_year"] for r in ft] == [2018, 2020]

    stats = crawl(
        api,
        "BenchmarkStatistics",
        key,
        **{"$filter": "cycle_year eq 2020 and peer_group_key eq 'type:L'"},
    )
    assert {r["metric_key"]: r["median"] for r in stats} == {
        r["metric_key"]: r["median"]
        for r in comparison
        if r["metric_key"] in {s["metric_key"] for s in stats}
    }

    admin = api.auth()
    for report, name in (("monthly", "SlaMonthly"), ("logged", "SlaLogged")):
        json_rows = api.metrics.get(f"/api/v1/sla/{report}", headers=admin).json()["items"]
        odata_rows = crawl(api, name, admin)
        assert [{k: r[k] for k in json_rows[0]} for r in odata_rows] == json_rows
    nps_json = api.metrics.get("/api/v1/nps", params={"source": "tickets"}, headers=admin).json()[
        "items"
    ]
    nps_feed = crawl(api, "Nps", admin, **{"$filter": "source eq 'tickets'"})
    order = lambda r: (r["organisation_id"], r["month"] or "~")  # noqa: E731
    assert sorted(({k: r[k] for k in nps_json[0]} for r in nps_feed), key=order) == nps_json

    factors = api.metrics.get("/api/v1/survey-results/campaigns/1/factors", headers=key).json()
    f_feed = crawl(api, "SurveyFactors", key, **{"$filter": "campaign_id eq 1"})
    by_factor = sorted(factors["items"], key=lambda r: r["factor"])  # the feed's key order
    # every column the feed declares equals the JSON API's (which has more since issue 15:
    # intervals and threshold_met)
    shared = [k for k in factors["columns"] if k in f_feed[0]]
    assert [{k: r[k] for k in shared} for r in f_feed] == [
        {k: r[k] for k in shared} for r in by_factor
    ]
    breakdowns = api.metrics.get(
        "/api/v1/survey-results/campaigns/1/breakdowns", headers=key
    ).json()["items"]
    b_feed = crawl(api, "SurveyBreakdowns", key, **{"$filter": "campaign_id eq 1"})
    cells = sorted(breakdowns, key=lambda r: (r["attribute"], r["value"]))
    shared = [k for k in breakdowns[0] if k in b_feed[0]]
    assert [{k: r[k] for k in shared} for r in b_feed] == [{k: r[k] for k in shared} for r in cells]
    hidden = [r for r in b_feed if r["suppressed"]]
    assert hidden and all(r["n"] is None and r["reason"] for r in hidden)

    with api.apps["metrics"].state.engine.connect() as conn:
        n_tickets = conn.execute(text("SELECT count(*) FROM sla_outcomes")).scalar()
    assert len(crawl(api, "SlaTickets", admin)) == n_tickets == 122


# ------------------------------------------------------------------ paging


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("Distributions", {}),
        ("SlaTickets", {}),  # keyset pages in SQL
        ("SlaTickets", {"$orderby": "logged_at desc", "$filter": "priority eq 'P1'"}),
        ("Comparisons", {"$orderby": "my_value desc"}),
    ],
)
def test_paging_to_the_end_returns_every_row_once(feed, name, params):
    api = feed["api"]
    headers = basic(feed["ticket_key"] if name.startswith("Sla") else feed["key"])
    total = get(api, name, headers, **params, **{"$count": "true", "$top": "0"}).json()[
        "@odata.count"
    ]
    assert total > 20
    first = api.metrics.get(
        f"{ROOT}/{name}", params=params, headers={**headers, "Prefer": "odata.maxpagesize=7"}
    )
    assert first.headers["preference-applied"] == "odata.maxpagesize=7"
    assert len(first.json()["value"]) == 7
    rows = crawl(api, name, {**headers, "Prefer": "odata.maxpagesize=7"}, **params)
    keys = next(s for s in ENTITY_SETS if s.name == name).key
    seen = [tuple(r[k] for k in keys) for r in rows]
    assert len(seen) == len(set(seen)) == total
    whole = get(api, name, headers, **params).json()["value"]  # one page of 5,000
    assert rows == whole


def test_bounded_page_size_and_skip_beyond_the_end(feed):
    api = feed["api"]
    headers = {**basic(feed["key"]), "Prefer": "odata.maxpagesize=999999"}
    r = get(api, "Metrics", headers)
    assert r.headers["preference-applied"] == "odata.maxpagesize=50000"
    beyond = get(api, "Metrics", basic(feed["key"]), **{"$skip": "100000"})
    assert beyond.status_code == 200 and beyond.json()["value"] == []
    assert "@odata.nextLink" not in beyond.json()


# ------------------------------------------------------------------ access


def test_participant_feed_never_shows_another_organisation(feed):
    api, me = feed["api"], feed["me"]
    others = [o for o in feed["orgs"] if o["id"] != me]
    raw = {_users(k) for k in range(2, 11)}
    names = {o["name"] for o in others}
    headers = basic(feed["key"])
    for name in SET_NAMES:
        rows = crawl(api, name, headers)
        text_ = json.dumps(rows)
        assert not any(n in text_ for n in names), name
        for row in rows:
            if "organisation_id" in row:
                assert row["organisation_id"] == me, (name, row)
            for value in row.values():
                assert value not in raw, (name, row)
        if name == "Distributions":
            theirs = [r for r in rows if not r["is_mine"]]
            assert theirs and all(r["peer_code"] for r in theirs)
            assert not [r for r in rows if r["cycle_year"] == 2018]  # access ended
    # asking for another organisation, or a cycle whose access ended: the reason
    odata_error(
        get(api, "Comparisons", headers, **{"$filter": f"organisation_id eq {others[0]['id']}"}),
        403,
    )
    ended = odata_error(get(api, "Comparisons", headers, **{"$filter": "cycle_year eq 2018"}), 403)
    assert ended["code"] == "access_expired" and "ended on" in ended["message"]
    # an administrator names the organisation on one organisation's view
    odata_error(get(api, "Comparisons", api.auth()), 400, "$filter")


# ------------------------------------------------------------------ bad input


def test_bad_input_is_an_odata_error_naming_what_to_fix(feed, owner_engine):
    api = feed["api"]
    headers = basic(feed["key"])
    e = odata_error(get(api, "Metrics", headers, **{"$filter": "cycle_year eq"}), 400, "$filter")
    assert "character" in e["message"]
    odata_error(get(api, "Metrics", headers, **{"$filter": "unit eq 5"}), 400, "$filter")
    e = odata_error(
        get(api, "Metrics", headers, **{"$select": "metric_key,colour"}), 400, "$select"
    )
    assert "'colour'" in e["message"]
    e = odata_error(get(api, "Metrics", headers, **{"$orderby": "size desc"}), 400, "$orderby")
    assert "'size'" in e["message"]
    odata_error(get(api, "Metrics", headers, **{"$top": "-1"}), 400, "$top")
    odata_error(get(api, "Metrics", headers, **{"$expand": "x"}), 501, "$expand")
    odata_error(get(api, "Metrics", headers, **{"$apply": "groupby((unit))"}), 501, "$apply")
    odata_error(get(api, "Metrics", headers, **{"$search": "cost"}), 501, "$search")
    odata_error(get(api, "Metrics", headers, **{"$filter": "length(unit) eq 3"}), 501, "$filter")
    odata_error(get(api, "Metrics", headers, **{"cycle": "2020"}), 400, "cycle")
    odata_error(get(api, "Nothing", headers), 404)
    # a skiptoken altered (or moved to another query) is refused
    page = get(api, "Metrics", {**headers, "Prefer": "odata.maxpagesize=5"}).json()
    token = dict(parse_qsl(urlsplit(page["@odata.nextLink"]).query))["$skiptoken"]
    body, mac = token.split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).replace(b'"n":5', b'"n":0')
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + mac
    odata_error(get(api, "Metrics", headers, **{"$skiptoken": forged}), 400, "$skiptoken")
    odata_error(
        get(api, "Metrics", headers, **{"$skiptoken": token, "$filter": "cycle_year eq 2020"}),
        400,
        "$skiptoken",
    )
    # an expired key: 401 with the Basic challenge, as an OData error
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE api_keys SET expires_at = now() - interval '1 minute' "
                "WHERE name = 'Tickets'"
            )
        )
    try:
        r = get(api, "Metrics", basic(feed["ticket_key"]))
        e = odata_error(r, 401)
        assert e["code"] == "api_key_expired"
        assert "Basic" in r.headers["www-authenticate"]
        assert get(api, "", {}).headers["www-authenticate"].count("Basic") == 1
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("UPDATE api_keys SET expires_at = NULL WHERE name = 'Tickets'"))


# ------------------------------------------------------------------ downloads


def test_whole_downloads_csv_parquet_etag_and_gzip(feed):
    api = feed["api"]
    headers = basic(feed["key"])
    params = {"$filter": "cycle_year eq 2020 and peer_group_key eq 'all'"}
    rows = crawl(api, "Distributions", headers, **params)
    # every metric of the cycle and group in one call (two have values here)
    assert {r["metric_key"] for r in rows} == {"users_per_ict_fte", "users_per_service_desk_fte"}
    assert len(rows) == 20
    as_csv = get(api, "Distributions", headers, **params, **{"$format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(parsed) == len(rows) and parsed[0]["peer_code"] == rows[0]["peer_code"]
    assert float(parsed[5]["value"]) == round(rows[5]["value"], 10)  # the One-shape CSV
    as_parquet = get(api, "Distributions", headers, **params, **{"$format": "parquet"})
    assert pl.read_parquet(io.BytesIO(as_parquet.content)).to_dicts() == [
        {**r, "results_release_date": date.fromisoformat(r["results_release_date"])} for r in rows
    ]
    # ETag and 304
    first = get(api, "Distributions", headers, **params)
    etag = first.headers["etag"]
    again = api.metrics.get(
        f"{ROOT}/Distributions", params=params, headers={**headers, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    # gzip when asked
    zipped = api.metrics.get(
        f"{ROOT}/Distributions",
        params={**params, "$format": "csv"},
        headers={**headers, "Accept-Encoding": "gzip"},
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == as_csv.text  # the client inflates it


def test_ticket_csv_streams_every_row_with_escaping(feed):
    api = feed["api"]
    headers = basic(feed["ticket_key"])
    r = get(api, "SlaTickets", headers, **{"$format": "csv", "$orderby": "reference"})
    assert r.status_code == 200, r.text
    assert r.headers["etag"].startswith('W/"')
    lines = r.content.split(b"\r\n")
    assert lines[0].startswith(b"organisation_id,source_system,reference")
    parsed = list(csv.DictReader(io.StringIO(r.text)))
    assert len(parsed) == 61
    escaped = next(p for p in parsed if p["reference"] == "'=X0")
    assert escaped["team"] == "'=Team" and escaped["is_open"] == "true"
    assert parsed[0]["logged_at"].endswith("Z")
    again = api.metrics.get(
        f"{ROOT}/SlaTickets",
        params={"$format": "csv", "$orderby": "reference"},
        headers={**headers, "If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304
    zipped = api.metrics.get(
        f"{ROOT}/SlaTickets",
        params={"$format": "csv", "$orderby": "reference"},
        headers={**headers, "Accept-Encoding": "gzip"},
    )
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == r.text
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_ticket_parquet_is_the_feeds_rows(feed):
    api = feed["api"]
    headers = basic(feed["ticket_key"])
    params = {"$filter": "priority eq 'P2'", "$select": "reference,logged_at,is_open,due_at"}
    rows = crawl(api, "SlaTickets", headers, **params)
    r = get(api, "SlaTickets", headers, **params, **{"$format": "parquet"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    got = pl.read_parquet(io.BytesIO(r.content))
    assert got.schema["logged_at"] == pl.Datetime("us", "UTC")
    assert got.schema["is_open"] == pl.Boolean
    as_json = got.with_columns(
        pl.col("logged_at", "due_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).to_dicts()
    assert as_json == rows and len(rows) == 30
    none = get(api, "SlaTickets", headers, **{"$filter": "priority eq 'P9'", "$format": "parquet"})
    assert pl.read_parquet(io.BytesIO(none.content)).height == 0


def test_statistics_download_keeps_the_select_order(feed):
    api = feed["api"]
    headers = basic(feed["key"])
    params = {"$filter": "peer_group_key eq 'all'", "$select": "n,metric_key,median"}
    rows = crawl(api, "BenchmarkStatistics", headers, **params)
    r = get(api, "BenchmarkStatistics", headers, **params, **{"$format": "parquet"})
    assert pl.read_parquet(io.BytesIO(r.content)).to_dicts() == rows and rows


# issue 13's per-ticket columns, in the feed as /api/v1/sla/tickets shows them
TICKET_RULE_COLUMNS = (
    "calendar_id",
    "pending_seconds",
    "cycles",
    "reopen_rule",
    "priority_change",
    "first_response_at",
    "response_target_seconds",
    "response_elapsed_seconds",
    "response_due_at",
    "response_status",
)


def test_tickets_carry_the_policy_rule_and_first_response_columns_of_the_json_api(feed):
    api = feed["api"]
    admin = api.auth()
    rows = crawl(api, "SlaTickets", admin)
    items = {}
    for org in feed["ticket_orgs"]:
        got = api.metrics.get(
            "/api/v1/sla/tickets", params={"organisation_id": org, "limit": 10000}, headers=admin
        )
        assert got.status_code == 200, got.text
        items |= {(org, t["source_system"], t["reference"]): t for t in got.json()["items"]}
    closed = [r for r in rows if not r["is_open"]]  # open ones are evaluated live there
    assert closed and len(items) == len(rows)
    for row in closed:
        want = items[(row["organisation_id"], row["source_system"], row["reference"])]
        assert {c: row[c] for c in TICKET_RULE_COLUMNS} == {
            c: want[c] for c in TICKET_RULE_COLUMNS
        }, row["reference"]
    assert sum(r["first_response_at"] is not None for r in rows) == 120
    assert all(r["calendar_id"] for r in closed)
    # typed in $metadata, filterable like any other property
    n = get(api, "SlaTickets/$count", admin, **{"$filter": "first_response_at ne null"})
    assert int(n.text) == 120
