"""Survey results (DOMAIN.md, "Surveys"), computed with the Polars engine.

Access: a campaign's figures go to the organisation's own users (participants and readers
scoped to it) and to admins. Comments are free text that may identify their writer, so
they go only to principals scoped to the organisation itself; the admin role alone does
not open them (support staff are given the organisation's scope explicitly when a council
asks for help), and no other participant ever sees them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl
from sqlalchemy.orm import Session

from services.metrics import figures
from services.metrics.surveys import confidence, disclosure, engine
from services.metrics.surveys import repository as repo
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
    # issue 15, after the original columns so existing readers keep their positions
    "satisfaction_ci_low_2dp",
    "satisfaction_ci_high_2dp",
    "importance_ci_low_2dp",
    "importance_ci_high_2dp",
    "threshold_met",
]
BREAKDOWN_COLUMNS = [
    "attribute",
    "value",
    "n",
    "mean_overall_2dp",
    "mean_improvement_2dp",
    "suppressed",
    "reason",
    "overall_ci_low_2dp",
    "overall_ci_high_2dp",
    "improvement_ci_low_2dp",
    "improvement_ci_high_2dp",
    "threshold_met",
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


FIGURES_VERSION = 2  # 2: intervals, adjusted response rate, thresholds (issue 15)
Audience = Literal["internal", "publication"]


def audience_for(principal: Principal, asked: Audience | None) -> Audience:
    """The organisation's own staff and admins see the internal view unless they ask for the
    publication one (to see what others see); a reader (a BI tool's key) always gets the
    publication view (DOMAIN.md: exports and BI are publication)."""
    if principal.has_any_role(("admin", "participant")):
        return asked or "internal"
    return "publication"


def _rate(responses: int, in_scope: int, undeliverable: int | None = None) -> dict[str, Any]:
    rate = engine.response_rate(responses, in_scope)
    out: dict[str, Any] = {
        "responses": rate.responses,
        "users_in_scope": rate.in_scope,
        "percent": None if rate.percent is None else float(rate.percent),
        "unit": "%",
        "text": rate.text,
    }
    if undeliverable is not None:
        out["undeliverable"] = undeliverable
    return out


def _thresholds(campaign: dict[str, Any], settings: Settings) -> dict[str, Any]:
    internal = max(int(campaign["suppression_threshold"]), engine.MIN_SUPPRESSION_THRESHOLD)
    return {
        "internal": internal,
        "publication_min_responses": max(settings.survey_publication_min_responses, internal),
        "publication_min_response_rate": settings.survey_publication_min_response_rate,
    }


def _met(n: pl.Expr, thresholds: dict[str, Any], rate: float | None) -> pl.Expr:
    return disclosure.threshold_met(
        n,
        internal=thresholds["internal"],
        publication_n=thresholds["publication_min_responses"],
        publication_rate=thresholds["publication_min_response_rate"],
        rate=pl.lit(rate, pl.Float64),
    )


def _confidence_note(population: int) -> dict[str, Any]:
    return {
        "level": confidence.LEVEL,
        "mean_method": confidence.MEAN_METHOD,
        "proportion_method": confidence.PROPORTION_METHOD,
        "finite_population_correction": confidence.FPC_METHOD,
        "population": population,
    }


def compute(
    session: Session,
    campaign: dict[str, Any],
    settings: Settings,
    audience: Audience = "internal",
) -> dict[str, Any]:
    """A campaign's figures for its own staff (``internal``: the campaign's threshold) or
    for anyone else (``publication``: the publication threshold, and nothing at all when the
    response rate is below the publication rate)."""
    frame = repo.responses_frame(session, [campaign["id"]])
    thresholds = _thresholds(campaign, settings)
    users = int(campaign["users_in_scope"])
    rate = engine.response_rate(frame.height, users)
    percent = None if rate.percent is None else float(rate.percent)
    _, undeliverable = repo.delivery(session, [campaign["id"]]).get(campaign["id"], (0, 0))
    reachable = max(users - undeliverable, 0)
    publish = audience == "publication"
    threshold = thresholds["publication_min_responses"] if publish else thresholds["internal"]
    rate_ok = percent is not None and percent >= thresholds["publication_min_response_rate"]
    withheld = publish and not rate_ok
    result: dict[str, Any] = {
        "campaign_id": campaign["id"],
        "organisation_id": campaign["organisation_id"],
        "kind": campaign["kind"],
        "status": campaign["status"],
        "final": campaign["status"] == "closed",
        "computed_at": datetime.now(UTC).isoformat(),
        "suppression_threshold": threshold,
        "response_rate": _rate(frame.height, users),
        "response_rate_adjusted": _rate(frame.height, reachable, undeliverable),
        "audience": audience,
        "thresholds": {
            **thresholds,
            "met": pl.select(_met(pl.lit(frame.height), thresholds, percent)).item(),
        },
        "withheld": (
            f"the response rate, {rate.text}, is below the publication threshold of "
            f"{thresholds['publication_min_response_rate']:g}%, so no figure of this "
            "campaign is published"
            if withheld
            else None
        ),
        "confidence": _confidence_note(users),
        "figures_version": FIGURES_VERSION,
    }
    population = users or None
    if campaign["kind"] == "user_satisfaction":
        overall = engine.overall_summary(frame).row(0, named=True)
        intervals = {
            r["key"]: r
            for r in engine.mean_intervals(
                frame, ["overall", "improvement"], population=population
            ).to_dicts()
        }
        low, high = engine.proportion_interval(
            overall["n_worse"], overall["n_improvement"], population
        )
        met = pl.select(_met(pl.lit(overall["n_overall"]), thresholds, percent)).item()
        hide_overall = withheld or (publish and met != disclosure.PUBLICATION)
        result["overall"] = {
            "responses": overall["responses"],
            "n_overall": overall["n_overall"],
            "mean_overall_2dp": overall["mean_overall_2dp"],
            "overall_ci_low_2dp": intervals["overall"]["ci_low_2dp"],
            "overall_ci_high_2dp": intervals["overall"]["ci_high_2dp"],
            "n_improvement": overall["n_improvement"],
            "mean_improvement_2dp": overall["mean_improvement_2dp"],
            "improvement_ci_low_2dp": intervals["improvement"]["ci_low_2dp"],
            "improvement_ci_high_2dp": intervals["improvement"]["ci_high_2dp"],
            "n_worse": overall["n_worse"],
            "percent_worse_2dp": _2dp_value(
                None
                if not overall["n_improvement"]
                else 100 * overall["n_worse"] / overall["n_improvement"]
            ),
            "percent_worse_ci_low_2dp": _2dp_value(low),
            "percent_worse_ci_high_2dp": _2dp_value(high),
            "unit": "mean rating, 1-7 (improvement below 4 = worse); percent_worse in %",
            "threshold_met": met,
        }
        if hide_overall:
            result["overall"] = {
                k: (None if k.endswith("_2dp") else v) for k, v in result["overall"].items()
            }
        factor_rows = _factor_rows(frame, thresholds, percent, population)
        if publish:
            factor_rows = [
                r
                if r["threshold_met"] == disclosure.PUBLICATION and not withheld
                else {k: (None if k.endswith("_2dp") else v) for k, v in r.items()}
                for r in factor_rows
            ]
        result["factors"] = factor_rows
        attributes = [f"attr.{a}" for a in campaign["breakdown_attributes"]]
        result["breakdowns"] = (
            _breakdown_rows(frame, attributes, threshold, thresholds, percent, withheld)
            if attributes and frame.height
            else []
        )
    elif campaign["kind"] == "user_skills":
        result["skills"] = _skills_rows(frame, thresholds, percent, population, publish, withheld)
    else:
        per_area, overall_sdma = engine.sdma_summary(frame, by=())
        areas = per_area.join(
            engine.mean_intervals(frame, per_area["area"].to_list(), population=population)
            .rename({"key": "area"})
            .select("area", "ci_low_2dp", "ci_high_2dp"),
            on="area",
            how="left",
        ).with_columns(_met(pl.col("n"), thresholds, percent).alias("threshold_met"))
        rows = areas.to_dicts()
        if publish:
            rows = [_publish_row(r, withheld) for r in rows]
        result["sdma"] = {"areas": rows, "overall": overall_sdma.to_dicts()}
    return result


def _2dp_value(value: float | None) -> float | None:
    if value is None:
        return None
    return float(pl.select(figures.half_up_float(pl.lit(value, pl.Float64), 2)).item())


def _publish_row(row: dict[str, Any], withheld: bool) -> dict[str, Any]:
    if row["threshold_met"] == disclosure.PUBLICATION and not withheld:
        return row
    return {k: (None if k.endswith("_2dp") else v) for k, v in row.items()}


def _factor_rows(
    frame: pl.DataFrame, thresholds: dict[str, Any], percent: float | None, population: int | None
) -> list[dict[str, Any]]:
    keys = [f"{f}.{m}" for f in engine.FACTOR_KEYS for m in engine.FACTOR_MEASURES]
    intervals = (
        engine.mean_intervals(frame, keys, population=population)
        .with_columns(
            pl.col("key").str.extract(r"^([^.]+)\.", 1).alias("factor"),
            pl.col("key").str.extract(r"\.([^.]+)$", 1).alias("measure"),
        )
        .pivot(on="measure", index="factor", values=["ci_low_2dp", "ci_high_2dp"])
    )
    renamed = intervals.rename(
        {
            "ci_low_2dp_satisfaction": "satisfaction_ci_low_2dp",
            "ci_high_2dp_satisfaction": "satisfaction_ci_high_2dp",
            "ci_low_2dp_importance": "importance_ci_low_2dp",
            "ci_high_2dp_importance": "importance_ci_high_2dp",
        }
    )
    return (
        engine.factor_summary(frame)
        .join(renamed, on="factor", how="left")
        .with_columns(
            _met(pl.min_horizontal("n_satisfaction", "n_importance"), thresholds, percent).alias(
                "threshold_met"
            )
        )
        .select(FACTOR_COLUMNS)
        .to_dicts()
    )


def _breakdown_rows(
    frame: pl.DataFrame,
    attributes: list[str],
    threshold: int,
    thresholds: dict[str, Any],
    percent: float | None,
    withheld: bool,
) -> list[dict[str, Any]]:
    cells = engine.breakdowns(frame, attributes, threshold=threshold)
    if withheld:
        # Nothing of this organisation is published: every cell is withheld.
        cells = cells.with_columns(
            pl.lit(None, pl.Int64).alias("n"),
            *(pl.lit(None, pl.Float64).alias(c) for c in cells.columns if c.endswith("_2dp")),
            pl.lit(True).alias("suppressed"),
            pl.lit("primary").alias("suppression"),
        )
    spans = []
    for attribute in attributes:
        value = pl.col(attribute).cast(pl.String).fill_null(engine.NOT_STATED).alias("value")
        per = engine.mean_intervals(
            frame.select(value, "overall", "improvement")
            if attribute in frame.columns
            else frame.select(pl.lit(engine.NOT_STATED).alias("value"), "overall", "improvement"),
            ["overall", "improvement"],
            by=["value"],
        )
        spans.append(per.with_columns(pl.lit(attribute).alias("attribute")))
    wide = (
        pl.concat(spans, how="vertical")
        .pivot(on="key", index=["attribute", "value"], values=["ci_low_2dp", "ci_high_2dp"])
        .rename(
            {
                "ci_low_2dp_overall": "overall_ci_low_2dp",
                "ci_high_2dp_overall": "overall_ci_high_2dp",
                "ci_low_2dp_improvement": "improvement_ci_low_2dp",
                "ci_high_2dp_improvement": "improvement_ci_high_2dp",
            }
        )
    )
    hide = pl.col("suppressed")
    reason = pl.when(hide).then(
        pl.lit(
            "withheld for disclosure control: this organisation's response rate is below the "
            "publication threshold"
            if withheld
            else f"withheld for disclosure control: fewer than {threshold} responses in this "
            "cell or in another cell of this breakdown"
        )
    )
    return (
        cells.join(wide, on=["attribute", "value"], how="left", maintain_order="left")
        .with_columns(
            *(
                pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
                for c in (
                    "overall_ci_low_2dp",
                    "overall_ci_high_2dp",
                    "improvement_ci_low_2dp",
                    "improvement_ci_high_2dp",
                )
            ),
            pl.when(hide)
            .then(None)
            .otherwise(_met(pl.col("n"), thresholds, percent))
            .alias("threshold_met"),
            reason.alias("reason"),
        )
        .select(BREAKDOWN_COLUMNS)
        .to_dicts()
    )


def _skills_rows(
    frame: pl.DataFrame,
    thresholds: dict[str, Any],
    percent: float | None,
    population: int | None,
    publish: bool,
    withheld: bool,
) -> list[dict[str, Any]]:
    _, per_area = engine.skills_summary(frame)
    areas = _skills_areas(frame)
    intervals = engine.ratio_intervals(frame, areas, population=population)
    rows = (
        per_area.select("area", "n", "mean_2dp")
        .join(
            intervals.select("area", "respondents", "ci_low_2dp", "ci_high_2dp")
            if intervals.height
            else pl.DataFrame(
                schema={
                    "area": pl.String,
                    "respondents": pl.Int64,
                    "ci_low_2dp": pl.Float64,
                    "ci_high_2dp": pl.Float64,
                }
            ),
            on="area",
            how="left",
        )
        .with_columns(
            pl.col("respondents").fill_null(0),
            _met(pl.col("respondents").fill_null(0), thresholds, percent).alias("threshold_met"),
        )
        .to_dicts()
    )
    return [_publish_row(r, withheld) for r in rows] if publish else rows


def _skills_areas(frame: pl.DataFrame) -> dict[str, list[str]]:
    areas: dict[str, list[str]] = {}
    for prefix, area in engine.SKILLS_AREAS.items():
        keys = engine._keys_like(frame.lazy(), prefix)
        if keys:
            areas[area] = keys
    return areas


def results(
    session: Session,
    principal: Principal,
    campaign_id: int,
    settings: Settings,
    audience: Audience | None = None,
) -> dict[str, Any]:
    """The internal view of a closed campaign is kept (computed once, the figures it keeps
    for good; a snapshot from before the intervals existed is computed again, its old
    figures unchanged); the publication view and interim figures are computed each time."""
    campaign = _campaign(session, principal, campaign_id)
    chosen = audience_for(principal, audience)
    if chosen == "publication" or campaign["status"] != "closed":
        return compute(session, campaign, settings, chosen)
    found = repo.stored(session, campaign_id)
    if found is None or found.get("figures_version", 1) < FIGURES_VERSION:
        found = compute(session, campaign, settings)
        repo.store(session, campaign, "request", found)
    return found


def recompute(
    session: Session, principal: Principal, campaign_id: int, settings: Settings
) -> dict[str, Any]:
    campaign = _campaign(session, principal, campaign_id)
    found = compute(session, campaign, settings)
    if campaign["status"] == "closed":
        repo.store(session, campaign, "request", found)
    return found


def store_closed_campaign(session: Session, campaign_id: int, settings: Settings) -> None:
    """Compute and keep a closed campaign's results (the figures it keeps for good)."""
    campaign = repo.get_campaign(session, campaign_id)
    if campaign is not None:
        repo.store(
            session,
            campaign,
            EventType.SURVEY_CAMPAIGN_CLOSED,
            compute(session, campaign, settings),
        )


def on_campaign_closed(session: Session, event: SurveyCampaignClosed, settings: Settings) -> None:
    """Event handler (services.metrics.events): the survey service closed a campaign."""
    store_closed_campaign(session, event.campaign_id, settings)


def table(
    session: Session,
    principal: Principal,
    campaign_id: int,
    name: str,
    settings: Settings,
    audience: Audience | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    found = results(session, principal, campaign_id, settings, audience)
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
    session: Session, principal: Principal, cycle: int, min_n: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """Median and quartiles (type 7, linear) across organisations of each user-satisfaction
    metric; each organisation appears only under its anonymous code for the cycle (the
    collection year ``cycle``)."""
    cycle_id = repo.cycle_id(session, cycle)
    if cycle_id is None:
        raise NotFound(f"There is no cycle for the year {cycle}.", code="cycle_not_found")
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
    return BENCHMARK_COLUMNS, rows


def survey_ratings(session: Session, orgs: list[int] | None) -> pl.DataFrame:
    """The surveys' 0-10 recommendation answers, one row per response: organisation_id,
    month (of the response date) and rating (null if unanswered; services.metrics.nps)."""
    frame = repo.responses_frame(session, [], organisations=orgs)
    return frame.select(
        "organisation_id",
        pl.col("response_date").cast(pl.Date).dt.truncate("1mo").alias("month"),
        pl.col("nps").alias("rating"),
    )
