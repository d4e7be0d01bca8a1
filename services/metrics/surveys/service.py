"""Survey results (DOMAIN.md, "Surveys"), computed with the Polars engine.

Access: a campaign's figures go to the organisation's own users (participants and readers
scoped to it) and to admins. Comments are free text that may identify their writer, so
they go only to principals scoped to the organisation itself; the admin role alone does
not open them (support staff are given the organisation's scope explicitly when a council
asks for help), and no other participant ever sees them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics import figures
from services.metrics.surveys import engine
from services.metrics.surveys import repository as repo
from services.metrics.workshops import repository as workshops_repo
from services.metrics.workshops import service as workshops
from shared.auth import Principal
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.events import EventType, SurveyCampaignClosed
from shared.settings import Settings

FACTOR_COLUMNS = [
    "factor",
    "n_satisfaction",
    "mean_satisfaction_2dp",
    "n_importance",
    "mean_importance_2dp",
    "gap_2dp",
    "weight_gap_2dp",
]
BREAKDOWN_COLUMNS = [
    "attribute",
    "value",
    "n",
    "mean_overall_2dp",
    "mean_improvement_2dp",
    "suppressed",
    "reason",
]
COMMENT_COLUMNS = ["response_date", "comment"]
BENCHMARK_METRICS = ["response_rate", "overall", "improvement", *engine.FACTOR_KEYS]


def _campaign(session: Session, principal: Principal, campaign_id: int) -> dict[str, Any]:
    campaign = repo.get_campaign(session, campaign_id)
    if campaign is None or not principal.can_see_organisation(campaign["organisation_id"]):
        raise NotFound(
            f"There are no survey results for campaign {campaign_id} that you can see.",
            code="campaign_not_found",
        )
    return campaign


def compute(session: Session, campaign: dict[str, Any]) -> dict[str, Any]:
    frame = repo.responses_frame(session, [campaign["id"]])
    threshold = max(int(campaign["suppression_threshold"]), engine.MIN_SUPPRESSION_THRESHOLD)
    rate = engine.response_rate(frame.height, int(campaign["users_in_scope"]))
    result: dict[str, Any] = {
        "campaign_id": campaign["id"],
        "organisation_id": campaign["organisation_id"],
        "kind": campaign["kind"],
        "status": campaign["status"],
        "final": campaign["status"] == "closed",
        "computed_at": datetime.now(UTC).isoformat(),
        "suppression_threshold": threshold,
        "response_rate": {
            "responses": rate.responses,
            "users_in_scope": rate.in_scope,
            "percent": None if rate.percent is None else float(rate.percent),
            "unit": "%",
            "text": rate.text,
        },
    }
    if campaign["kind"] == "user_satisfaction":
        overall = engine.overall_summary(frame).row(0, named=True)
        result["overall"] = {
            "responses": overall["responses"],
            "n_overall": overall["n_overall"],
            "mean_overall_2dp": overall["mean_overall_2dp"],
            "n_improvement": overall["n_improvement"],
            "mean_improvement_2dp": overall["mean_improvement_2dp"],
            "n_worse": overall["n_worse"],
            "unit": "mean rating, 1-7 (improvement below 4 = worse)",
        }
        result["factors"] = engine.factor_summary(frame).select(FACTOR_COLUMNS).to_dicts()
        attributes = [f"attr.{a}" for a in campaign["breakdown_attributes"]]
        result["breakdowns"] = (
            engine.breakdowns(frame, attributes, threshold=threshold)
            .select(BREAKDOWN_COLUMNS)
            .to_dicts()
            if attributes and frame.height
            else []
        )
    elif campaign["kind"] == "user_skills":
        _, per_area = engine.skills_summary(frame)
        result["skills"] = per_area.select("area", "n", "mean_2dp").to_dicts()
    else:
        per_area, overall_sdma = engine.sdma_summary(frame, by=())
        result["sdma"] = {"areas": per_area.to_dicts(), "overall": overall_sdma.to_dicts()}
    return result


def results(session: Session, principal: Principal, campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(session, principal, campaign_id)
    if campaign["status"] == "closed":
        found = repo.stored(session, campaign_id)
        if found is None:
            found = compute(session, campaign)
            repo.store(session, campaign, "request", found)
        return found
    return compute(session, campaign)  # interim figures while open are not stored


def recompute(session: Session, principal: Principal, campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(session, principal, campaign_id)
    found = compute(session, campaign)
    if campaign["status"] == "closed":
        repo.store(session, campaign, "request", found)
    return found


def store_closed_campaign(session: Session, campaign_id: int) -> None:
    """Compute and keep a closed campaign's results (the figures it keeps for good)."""
    campaign = repo.get_campaign(session, campaign_id)
    if campaign is not None:
        repo.store(session, campaign, EventType.SURVEY_CAMPAIGN_CLOSED, compute(session, campaign))


def on_campaign_closed(session: Session, event: SurveyCampaignClosed, _settings: Settings) -> None:
    """Event handler (services.metrics.events): the survey service closed a campaign."""
    store_closed_campaign(session, event.campaign_id)


def table(
    session: Session, principal: Principal, campaign_id: int, name: str
) -> tuple[list[str], list[dict[str, Any]]]:
    found = results(session, principal, campaign_id)
    if name not in found:
        raise Unprocessable(f"A {found['kind']} survey has no {name} table.", code="no_such_table")
    return (FACTOR_COLUMNS if name == "factors" else BREAKDOWN_COLUMNS), list(found[name])


def comments(
    session: Session, principal: Principal, campaign_id: int
) -> tuple[list[str], list[dict[str, Any]]]:
    campaign = _campaign(session, principal, campaign_id)
    if campaign["organisation_id"] not in principal.organisations:
        raise Forbidden(
            "Comments are shown only to the organisation's own users.", code="comments_forbidden"
        )
    rows = [
        {"response_date": d.isoformat(), "comment": t}
        for d, t in repo.comments(session, campaign_id)
    ]
    return COMMENT_COLUMNS, rows


BENCHMARK_COLUMNS = [
    "metric",
    "unit",
    "n",
    "lower_quartile",
    "median",
    "upper_quartile",
    "suppressed",
    "reason",
    "values",
]


def _2dp(column: str) -> pl.Expr:
    # Means and quartiles are floats: rounded half up as they print (figures.half_up_float).
    return figures.half_up_float(pl.col(column), 2).cast(pl.Float64)


def benchmark(
    session: Session,
    principal: Principal,
    cycle: int,
    min_n: int,
    now: datetime,
    resource: str,
) -> tuple[list[str], list[dict[str, Any]], list[int]]:
    """Median and quartiles (type 7, linear) across organisations of each user-satisfaction
    metric; each organisation appears only under its anonymous code for the cycle (the
    collection year ``cycle``), with its name beside it only in a named view (a results
    workshop in session that ``principal``'s organisation consented in; recorded as
    ``resource``). Also returns the workshops names are shown under (empty: codes only)."""
    cycle_id = repo.cycle_id(session, cycle)
    if cycle_id is None:
        raise NotFound(f"There is no cycle for the year {cycle}.", code="cycle_not_found")
    mine = principal.organisations
    windows = workshops_repo.windows(session, mine, cycle)
    named = workshops.named_view(session, principal, mine, cycle, windows, now)
    if named is not None:
        workshops.record(session, named, principal, resource, now)
    chosen = repo.benchmark_campaigns(session, cycle_id)
    codes = repo.codes(session, cycle_id)
    frame = (
        repo.responses_frame(session, [c["id"] for c in chosen])
        if chosen
        else pl.DataFrame(schema=repo.SCHEMA)
    )
    scope = pl.DataFrame(
        {
            "organisation_id": [c["organisation_id"] for c in chosen],
            "users_in_scope": [c["users_in_scope"] for c in chosen],
        },
        schema={"organisation_id": pl.Int64, "users_in_scope": pl.Int64},
    )
    per_org = (
        scope.lazy()
        .join(
            frame.lazy()
            .group_by("organisation_id")
            .agg(
                pl.len().cast(pl.Int64).alias("responses"),
                pl.col("overall").mean().alias("overall"),
                pl.col("improvement").mean().alias("improvement"),
                *(pl.col(f"{f}.satisfaction").mean().alias(f) for f in engine.FACTOR_KEYS),
            ),
            on="organisation_id",
            how="left",
        )
        .with_columns(
            pl.when(pl.col("users_in_scope") > 0)
            .then(pl.col("responses").fill_null(0) * 100.0 / pl.col("users_in_scope"))
            .otherwise(None)
            .alias("response_rate")
        )
        .unpivot(
            on=BENCHMARK_METRICS,
            index="organisation_id",
            variable_name="metric",
            value_name="value",
        )
        .drop_nulls("value")
    )
    stats = (
        per_org.group_by("metric")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("value").quantile(0.25, interpolation="linear").alias("lower_quartile"),
            pl.col("value").quantile(0.5, interpolation="linear").alias("median"),
            pl.col("value").quantile(0.75, interpolation="linear").alias("upper_quartile"),
        )
        .collect()
    )
    stats = stats.with_columns(_2dp(c) for c in ("lower_quartile", "median", "upper_quartile"))
    values = per_org.with_columns(_2dp("value")).collect()
    by_metric = {row["metric"]: row for row in stats.to_dicts()}
    rows = []
    for metric in BENCHMARK_METRICS:
        stat = by_metric.get(metric, {"n": 0})
        n = int(stat["n"])
        suppressed = n < min_n
        metric_values = (
            []
            if suppressed
            else sorted(
                (
                    {
                        "code": codes.get(int(v["organisation_id"]), "uncoded"),
                        "name": named.name_of(cycle, int(v["organisation_id"])) if named else None,
                        "value": v["value"],
                        "yours": int(v["organisation_id"]) in principal.organisations,
                    }
                    for v in values.filter(pl.col("metric") == metric).to_dicts()
                ),
                key=lambda x: str(x["code"]),
            )
        )
        rows.append(
            {
                "metric": metric,
                "unit": "%" if metric == "response_rate" else "mean rating 1-7",
                "n": n,
                "lower_quartile": None if suppressed else stat["lower_quartile"],
                "median": None if suppressed else stat["median"],
                "upper_quartile": None if suppressed else stat["upper_quartile"],
                "suppressed": suppressed,
                "reason": f"fewer than {min_n} organisations" if suppressed else None,
                "values": metric_values,
            }
        )
    return BENCHMARK_COLUMNS, rows, named.workshop_ids if named else []


def survey_ratings(session: Session, orgs: list[int] | None) -> pl.DataFrame:
    """The surveys' 0-10 recommendation answers, one row per response: organisation_id,
    month (of the response date) and rating (null if unanswered; services.metrics.nps)."""
    frame = repo.responses_frame(session, [], organisations=orgs)
    return frame.select(
        "organisation_id",
        pl.col("response_date").cast(pl.Date).dt.truncate("1mo").alias("month"),
        pl.col("nps").alias("rating"),
    )
