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
from services.metrics.surveys import confidence, disclosure, engine, group, weighting
from services.metrics.surveys import repository as repo
from services.metrics.workshops import repository as workshops_repo
from services.metrics.workshops import service as workshops
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
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
    settings: Settings | None = None,
    audience: Audience | None = None,
) -> dict[str, Any]:
    """The internal view of a closed campaign is kept (computed once, the figures it keeps
    for good; a snapshot from before the intervals existed is computed again, its old
    figures unchanged); the publication view and interim figures are computed each time.
    ``settings`` default to the environment's (callers outside a request, e.g. feeds)."""
    settings = settings or Settings()
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


def store_closed_campaign(
    session: Session, campaign_id: int, settings: Settings | None = None
) -> None:
    """Compute and keep a closed campaign's results (the figures it keeps for good);
    ``settings`` default to the environment's (the demo loader calls this directly)."""
    settings = settings or Settings()
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


# ------------------------------------------------------------- weighted (issue 15)

WEIGHTED_COLUMNS = [*group.WEIGHTED_COLUMNS, "suppressed", "reason", "threshold_met"]


def _no_headcount(campaign_id: int) -> Conflict:
    return Conflict(
        f"Campaign {campaign_id} has no headcount, so there is nothing to weight its results "
        f"to. Upload the organisation's headcount by breakdown attribute (PUT "
        f"/api/v1/campaigns/{campaign_id}/headcount on the survey service: cells such as "
        "role x location, or margins only), then ask again.",
        code="no_headcount",
    )


def _with_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("_row")


def weighted(
    session: Session,
    principal: Principal,
    campaign_id: int,
    settings: Settings,
    audience: Audience | None = None,
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """A user-satisfaction campaign's means unweighted and weighted side by side (DOMAIN.md,
    "Survey confidence and weighting"), with the method, why, and the effective sample
    size. Cells of a breakdown are withheld exactly where the unweighted breakdown is."""
    campaign = _campaign(session, principal, campaign_id)
    if campaign["kind"] != "user_satisfaction":
        raise Unprocessable(
            f"Campaign {campaign_id} is a {campaign['kind']} survey; weighting applies to "
            "user-satisfaction surveys.",
            code="not_weightable",
        )
    heads, cell_rows = repo.headcounts(session, [campaign_id])
    if campaign_id not in heads:
        raise _no_headcount(campaign_id)
    chosen = audience_for(principal, audience)
    internal = compute(session, campaign, settings, chosen)
    thresholds = internal["thresholds"]
    threshold = int(internal["suppression_threshold"])
    frame = _with_rows(repo.responses_frame(session, [campaign_id]))
    users = int(campaign["users_in_scope"])
    weights, notes = weighting.weigh(
        frame, heads, cell_rows, {campaign_id: users}, min_cell=thresholds["internal"]
    )
    frame = frame.join(weights, on="_row", how="left")
    attributes = [f"attr.{a}" for a in campaign["breakdown_attributes"]]
    keys = [
        "overall",
        "improvement",
        *(f"{f}.{m}" for f in engine.FACTOR_KEYS for m in engine.FACTOR_MEASURES),
    ]
    table = group.weighted_figures(frame, keys, attributes=attributes, population=users or None)
    flags = pl.DataFrame(
        [
            {"attribute": b["attribute"], "value": b["value"], "suppressed": b["suppressed"]}
            for b in internal.get("breakdowns") or []
        ],
        schema={"attribute": pl.String, "value": pl.String, "suppressed": pl.Boolean},
    )
    rate = internal["response_rate"]["percent"]
    hide_all = internal["withheld"] is not None
    hide = pl.col("suppressed")
    figure_cols = [c for c in group.WEIGHTED_COLUMNS if c not in ("figure", "attribute", "value")]
    rows = (
        table.join(flags, on=["attribute", "value"], how="left", maintain_order="left")
        .with_columns(
            (pl.col("suppressed").fill_null(False) | pl.lit(hide_all)).alias("suppressed"),
            _met(pl.col("n"), thresholds, rate).alias("threshold_met"),
        )
        .with_columns(
            pl.when(chosen == "publication")
            .then(pl.col("suppressed") | (pl.col("threshold_met") != disclosure.PUBLICATION))
            .otherwise(pl.col("suppressed"))
            .fill_null(True)
            .alias("suppressed")
        )
        .with_columns(
            *(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in figure_cols),
            pl.when(hide).then(None).otherwise(pl.col("threshold_met")).alias("threshold_met"),
            pl.when(hide)
            .then(
                pl.lit(
                    internal["withheld"]
                    or f"withheld for disclosure control: fewer than {threshold} responses in "
                    "this cell or in another cell of this breakdown"
                )
            )
            .alias("reason"),
        )
        .select(WEIGHTED_COLUMNS)
        .to_dicts()
    )
    note = notes[0]
    n_eff = weighting.effective_size(frame.get_column("weight"))
    meta = {
        "campaign_id": campaign_id,
        "audience": chosen,
        "weighting": {
            "method": note.method,
            "why": note.why,
            "attributes": note.attributes,
            "merged": note.merged,
            "iterations": note.iterations,
            "headcount_total": int(heads[campaign_id]["total"]),
            "responses": frame.height,
            "effective_sample_size_1dp": None if n_eff is None else _1dp(n_eff),
            "design_effect_2dp": None if not n_eff else _2dp_value(frame.height / n_eff),
        },
        "confidence": _confidence_note(users) | {"weighted_method": confidence.WEIGHTED_METHOD},
    }
    return WEIGHTED_COLUMNS, rows, meta


def _1dp(value: float) -> float:
    return float(pl.select(figures.half_up_float(pl.lit(value, pl.Float64), 1)).item())


# ------------------------------------------------------------- group views (issue 15)


def _cycles(session: Session, years: list[int]) -> dict[int, int]:
    """Year → cycle id for each year asked; 404 naming a year with no cycle."""
    found: dict[int, int] = {}
    for year in dict.fromkeys(years):
        cid = repo.cycle_id(session, year)
        if cid is None:
            raise NotFound(f"There is no cycle for the year {year}.", code="cycle_not_found")
        found[year] = cid
    return found


def _group_frame(
    session: Session, campaigns: list[dict[str, Any]], year_of: dict[int, int]
) -> pl.DataFrame:
    frame = repo.responses_frame(session, [c["id"] for c in campaigns])
    cycle_of = {c["id"]: year_of[c["cycle_id"]] for c in campaigns}
    return _with_rows(frame).with_columns(
        pl.col("campaign_id")
        .replace_strict(cycle_of, default=None, return_dtype=pl.Int64)
        .alias("cycle")
    )


def _group_weights(
    session: Session, frame: pl.DataFrame, campaigns: list[dict[str, Any]], settings: Settings
) -> tuple[pl.DataFrame, dict[str, Any]]:
    ids = [c["id"] for c in campaigns]
    heads, cell_rows = repo.headcounts(session, ids)
    weights, notes = weighting.weigh(
        frame,
        heads,
        cell_rows,
        {c["id"]: int(c["users_in_scope"]) for c in campaigns},
        min_cell=settings.survey_publication_min_responses,
    )
    weighted = frame.join(weights, on="_row", how="left").with_columns(
        pl.col("weight").fill_null(1.0)
    )
    methods = {m: sum(1 for n in notes if n.method == m) for m in ("cell", "raking", "scope")}
    n_eff = weighting.effective_size(weighted.get_column("weight")) if weighted.height else None
    summary = {
        "organisations_by_method": methods,
        "why": "each organisation is weighted to its own headcount: cell weighting where it "
        "gave every combination of its attributes, raking where it gave margins only, and its "
        "users in scope as one cell where it gave none; so the group figure counts each "
        "organisation as many people as it has",
        "effective_sample_size_1dp": None if n_eff is None else _1dp(n_eff),
    }
    return weighted, summary


def _group_context(
    session: Session, years: list[int], kind: str = "user_satisfaction"
) -> tuple[dict[int, int], list[dict[str, Any]]]:
    cycles = _cycles(session, years)
    year_of = {cid: year for year, cid in cycles.items()}
    return year_of, repo.latest_closed_campaigns(session, list(year_of), kind)


def group_breakdowns(
    session: Session, settings: Settings, years: list[int]
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """Overall satisfaction and improvement by each attribute across every participating
    organisation of the cycles (pooled when several), unweighted and weighted side by side,
    at the publication threshold."""
    year_of, campaigns = _group_context(session, years)
    columns = group.breakdown_columns()
    threshold = settings.survey_publication_min_responses
    meta: dict[str, Any] = {
        "cycles": sorted(set(years)),
        "organisations": len({c["organisation_id"] for c in campaigns}),
        "thresholds": {
            "min_responses": threshold,
            "min_organisations": settings.disclosure_min_n,
            "rule": disclosure.GROUP_RULE,
        },
        "confidence": _confidence_note(sum(int(c["users_in_scope"]) for c in campaigns))
        | {"weighted_method": confidence.WEIGHTED_METHOD},
    }
    if not campaigns:
        meta["weighting"] = {
            "organisations_by_method": {"cell": 0, "raking": 0, "scope": 0},
            "why": "no closed user-satisfaction campaigns in these cycles",
            "effective_sample_size_1dp": None,
        }
        return columns, [], meta
    frame, meta["weighting"] = _group_weights(
        session, _group_frame(session, campaigns, year_of), campaigns, settings
    )
    scope: dict[int, int] = {}
    for c in campaigns:
        year = year_of[c["cycle_id"]]
        scope[year] = scope.get(year, 0) + int(c["users_in_scope"])
    rows = group.breakdowns(
        frame,
        cycles=sorted(set(years)),
        users_in_scope=scope,
        threshold=threshold,
        min_orgs=settings.disclosure_min_n,
    )
    return columns, rows.to_dicts(), meta


def _results_years(session: Session, year: int, kind: str) -> list[int]:
    """Years up to ``year`` (oldest first) whose cycle has closed campaigns of ``kind``."""
    cycles = repo.cycles_up_to(session, year)
    with_results = {
        c["cycle_id"]
        for c in repo.latest_closed_campaigns(session, [cid for cid, _ in cycles], kind)
    }
    return [y for cid, y in cycles if cid in with_results]


def group_factors(
    session: Session, settings: Settings, year: int, baseline: list[int]
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """Each factor for the cycle against a baseline pooled over earlier cycles (all earlier
    cycles with results unless named)."""
    _cycles(session, [year, *baseline])
    earlier = [y for y in _results_years(session, year, "user_satisfaction") if y < year]
    if baseline:
        later = [y for y in baseline if y >= year]
        if later:
            raise Unprocessable(
                f"A baseline pools earlier cycles; {', '.join(map(str, later))} is not earlier "
                f"than {year}. Name cycles before {year}.",
                code="invalid_baseline",
            )
        empty = [y for y in baseline if y not in earlier]
        if empty:
            raise Unprocessable(
                f"Cycle {', '.join(map(str, empty))} has no closed user-satisfaction campaigns "
                "to pool into a baseline"
                + (f"; cycles with results: {', '.join(map(str, earlier))}." if earlier else "."),
                code="no_baseline",
            )
        chosen = sorted(set(baseline))
    else:
        if not earlier:
            raise Unprocessable(
                f"There is no earlier cycle with survey results to pool as a baseline for "
                f"{year}: no cycle before {year} has closed user-satisfaction campaigns. "
                "Compare a later cycle, or load earlier cycles' results first.",
                code="no_baseline",
            )
        chosen = earlier
    year_of, campaigns = _group_context(session, [year, *chosen])
    frame, weights = _group_weights(
        session, _group_frame(session, campaigns, year_of), campaigns, settings
    )
    scope: dict[int, int] = {}
    for c in campaigns:
        y = year_of[c["cycle_id"]]
        scope[y] = scope.get(y, 0) + int(c["users_in_scope"])
    rows = group.factors(
        frame,
        cycle=year,
        baseline=chosen,
        users_in_scope=scope,
        threshold=settings.survey_publication_min_responses,
        min_orgs=settings.disclosure_min_n,
    )
    meta = {
        "cycle": year,
        "baseline_cycles": chosen,
        "organisations": len(
            {c["organisation_id"] for c in campaigns if year_of[c["cycle_id"]] == year}
        ),
        "weighting": weights,
        "confidence": _confidence_note(scope.get(year, 0))
        | {"weighted_method": confidence.WEIGHTED_METHOD},
    }
    return group.factor_columns(), rows.to_dicts(), meta


RATE_COLUMNS = [
    "code",
    "yours",
    "cycle",
    "responses",
    "users_in_scope",
    "percent",
    "text",
    "undeliverable",
    "adjusted_percent",
    "adjusted_text",
    "threshold_met",
]


def _code(codes: dict[tuple[int, int], str], cycle_ids: list[int], organisation_id: int) -> str:
    """The organisation's code in the first of ``cycle_ids`` where it has one: one label for
    an organisation across the cycles of a view, the code of the cycle asked about."""
    for cid in cycle_ids:
        code = codes.get((cid, organisation_id))
        if code:
            return code
    return "uncoded"


def group_response_rates(
    session: Session, principal: Principal, settings: Settings, year: int
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """Each organisation's response rate in the last three cycles with results up to
    ``year``, both forms, and the benchmark pooled over them: the median and quartiles
    (type 7) of the organisations' rates, and the pooled rate."""
    _cycles(session, [year])
    years = _results_years(session, year, "user_satisfaction")[-3:]
    year_of, campaigns = _group_context(session, years) if years else ({}, [])
    counts = repo.response_counts(session, [c["id"] for c in campaigns])
    undeliverable = repo.delivery(session, [c["id"] for c in campaigns])
    order = sorted(year_of, key=lambda cid: -year_of[cid])
    codes = repo.codes_for(session, order)
    pub_n = settings.survey_publication_min_responses
    rows = []
    for c in campaigns:
        responses = counts.get(c["id"], 0)
        users = int(c["users_in_scope"])
        bounced = undeliverable.get(c["id"], (0, 0))[1]
        raw = _rate(responses, users)
        adjusted = _rate(responses, max(users - bounced, 0))
        met = pl.select(
            disclosure.threshold_met(
                pl.lit(responses),
                internal=max(int(c["suppression_threshold"]), engine.MIN_SUPPRESSION_THRESHOLD),
                publication_n=pub_n,
                publication_rate=settings.survey_publication_min_response_rate,
                rate=pl.lit(raw["percent"], pl.Float64),
            )
        ).item()
        rows.append(
            {
                "code": _code(codes, order, int(c["organisation_id"])),
                "yours": int(c["organisation_id"]) in principal.organisations,
                "cycle": year_of[c["cycle_id"]],
                "responses": responses,
                "users_in_scope": users,
                "percent": raw["percent"],
                "text": raw["text"],
                "undeliverable": bounced,
                "adjusted_percent": adjusted["percent"],
                "adjusted_text": adjusted["text"],
                "threshold_met": met,
            }
        )
    rows.sort(key=lambda r: (r["code"], r["cycle"]))
    orgs = len({c["organisation_id"] for c in campaigns})
    rates = pl.Series([r["percent"] for r in rows if r["percent"] is not None], dtype=pl.Float64)
    suppressed = orgs < settings.disclosure_min_n
    pooled = engine.response_rate(
        sum(r["responses"] for r in rows), sum(r["users_in_scope"] for r in rows)
    )

    def q(p: float) -> float | None:
        if suppressed or rates.len() == 0:
            return None
        return _2dp_value(float(rates.quantile(p, interpolation="linear") or 0.0))

    meta = {
        "cycles": years,
        "benchmark": {
            "n": rates.len(),
            "organisations": orgs,
            "lower_quartile": q(0.25),
            "median": q(0.5),
            "upper_quartile": q(0.75),
            "pooled_percent": None
            if suppressed or pooled.percent is None
            else float(pooled.percent),
            "pooled_text": None if suppressed else pooled.text,
            "unit": "%",
            "suppressed": suppressed,
            "reason": f"fewer than {settings.disclosure_min_n} organisations"
            if suppressed
            else None,
        },
    }
    return RATE_COLUMNS, rows, meta


SDMA_COLUMNS = [
    "code",
    "yours",
    "cycle",
    "area",
    "n",
    "mean_2dp",
    "ci_low_2dp",
    "ci_high_2dp",
    "change_2dp",
    "suppressed",
    "reason",
    "threshold_met",
]
SDMA_AREAS = [f"M{i}" for i in range(1, 10)]


def _visible(
    principal: Principal, settings: Settings, n: pl.Expr, internal: pl.Expr, rate: pl.Expr
) -> tuple[pl.Expr, pl.Expr]:
    """(primary-withheld, threshold_met) for organisation rows: the viewer's own
    organisations need the internal threshold, everyone else's the publication one."""
    own = pl.col("organisation_id").is_in(list(principal.organisations))
    pub_n = pl.max_horizontal(internal, pl.lit(settings.survey_publication_min_responses))
    pub_ok = (n >= pub_n) & (rate.fill_null(-1.0) >= settings.survey_publication_min_response_rate)
    met = (
        pl.when(pub_ok)
        .then(pl.lit(disclosure.PUBLICATION))
        .when(n >= internal)
        .then(pl.lit(disclosure.INTERNAL))
        .otherwise(pl.lit(None, pl.String))
    )
    withheld = pl.when(own).then(n < internal).otherwise(~pub_ok)
    return withheld, met


def group_sdma(
    session: Session, principal: Principal, settings: Settings, year: int
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """SDMA's nine areas and overall maturity per organisation and cycle, with the change
    since the organisation's previous cycle (progress), for every cycle up to ``year``. No
    peer comparison (DOMAIN.md): a participant sees only its own organisations; an admin
    sees every organisation, by code."""
    _cycles(session, [year])
    years = _results_years(session, year, "sdma")
    year_of, campaigns = _group_context(session, years, "sdma") if years else ({}, [])
    if not principal.is_admin:
        campaigns = [c for c in campaigns if c["organisation_id"] in principal.organisations]
    meta = {"cycles": years, "no_peer_comparison": True}
    if not campaigns:
        return SDMA_COLUMNS, [], meta
    frame = _group_frame(session, campaigns, year_of)
    info = pl.DataFrame(
        {
            "campaign_id": [c["id"] for c in campaigns],
            "_N": [int(c["users_in_scope"]) for c in campaigns],
            "_internal": [
                max(int(c["suppression_threshold"]), engine.MIN_SUPPRESSION_THRESHOLD)
                for c in campaigns
            ],
        },
        schema={"campaign_id": pl.Int64, "_N": pl.Int64, "_internal": pl.Int64},
    )
    counts = frame.group_by("campaign_id").agg(pl.len().cast(pl.Int64).alias("_responses"))
    frame = frame.join(info, on="campaign_id")
    by = ["organisation_id", "cycle", "campaign_id", "_N", "_internal"]
    areas = engine.mean_intervals(frame, SDMA_AREAS, by=by, population="_N").rename({"key": "area"})
    overall = (
        areas.group_by(by)
        .agg(
            pl.col("mean").mean().alias("mean"),
            pl.col("n").min().alias("n"),
            pl.col("mean").count().alias("_rated"),
        )
        .with_columns(
            pl.lit("overall").alias("area"),
            pl.lit(None, pl.Float64).alias("ci_low_2dp"),
            pl.lit(None, pl.Float64).alias("ci_high_2dp"),
        )
    )
    rows = pl.concat(
        [
            areas.select(*by, "area", "n", "mean", "ci_low_2dp", "ci_high_2dp"),
            overall.select(*by, "area", "n", "mean", "ci_low_2dp", "ci_high_2dp"),
        ],
        how="vertical_relaxed",
    ).join(counts, on="campaign_id", how="left")
    rate = pl.col("_responses") * 100.0 / pl.col("_N")
    withheld, met = _visible(principal, settings, pl.col("n"), pl.col("_internal"), rate)
    order = {a: i for i, a in enumerate([*SDMA_AREAS, "overall"])}
    rows = (
        rows.with_columns(withheld.alias("suppressed"), met.alias("threshold_met"))
        # The overall maturity is the mean of the area means: shown only with all of them.
        .with_columns(
            pl.col("suppressed").any().over("campaign_id").alias("_any_area_hidden"),
        )
        .with_columns(
            (
                pl.col("suppressed") | ((pl.col("area") == "overall") & pl.col("_any_area_hidden"))
            ).alias("suppressed")
        )
        .sort("organisation_id", "area", "cycle")
        .with_columns(
            pl.when(~pl.col("suppressed")).then(pl.col("mean")).alias("_shown"),
        )
        .with_columns(
            (pl.col("_shown") - pl.col("_shown").shift(1).over(["organisation_id", "area"])).alias(
                "_change"
            )
        )
        .with_columns(
            figures.half_up_float(pl.col("mean"), 2).cast(pl.Float64).alias("mean_2dp"),
            figures.half_up_float(pl.col("_change"), 2).cast(pl.Float64).alias("change_2dp"),
            pl.col("area").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
    )
    codes = repo.codes_for(session, sorted(year_of, key=lambda cid: -year_of[cid]))
    order_ids = sorted(year_of, key=lambda cid: -year_of[cid])
    hide = pl.col("suppressed")
    out = (
        rows.with_columns(
            *(
                pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
                for c in ("n", "mean_2dp", "ci_low_2dp", "ci_high_2dp", "change_2dp")
            ),
            pl.when(hide)
            .then(
                pl.lit(
                    "withheld: fewer respondents than the threshold for this view (the "
                    "organisation's own staff: its campaign's threshold; others: the publication "
                    "threshold and response rate); overall maturity is withheld with any area"
                )
            )
            .alias("reason"),
        )
        .sort("organisation_id", "cycle", "_order")
        .to_dicts()
    )
    result = [
        {
            **{k: r[k] for k in SDMA_COLUMNS if k in r},
            "code": _code(codes, order_ids, int(r["organisation_id"])),
            "yours": int(r["organisation_id"]) in principal.organisations,
        }
        for r in out
    ]
    result.sort(key=lambda r: (str(r["code"]), r["cycle"]))
    return SDMA_COLUMNS, [{k: r[k] for k in SDMA_COLUMNS} for r in result], meta


SKILLS_COLUMNS = [
    "code",
    "yours",
    "area",
    "respondents",
    "n",
    "mean_2dp",
    "ci_low_2dp",
    "ci_high_2dp",
    "group_mean_2dp",
    "difference_2dp",
    "suppressed",
    "reason",
    "threshold_met",
]
ALL_ORGANISATIONS = "All organisations"


def group_skills(
    session: Session, principal: Principal, settings: Settings, year: int
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """User-skills results per area for each organisation of the cycle (by code) against the
    group: the organisation's area mean (all its ratings of the area's questions), the
    group's, and the difference. The group row comes first for each area; an organisation
    row is withheld below its threshold for this viewer, with complementary suppression
    because the group figure is published."""
    year_of, campaigns = _group_context(session, [year], "user_skills")
    meta: dict[str, Any] = {"cycle": year, "organisations": len(campaigns)}
    if not campaigns:
        return SKILLS_COLUMNS, [], meta
    frame = _group_frame(session, campaigns, year_of)
    areas = _skills_areas(frame)
    info = pl.DataFrame(
        {
            "campaign_id": [c["id"] for c in campaigns],
            "_N": [int(c["users_in_scope"]) for c in campaigns],
            "_internal": [
                max(int(c["suppression_threshold"]), engine.MIN_SUPPRESSION_THRESHOLD)
                for c in campaigns
            ],
        },
        schema={"campaign_id": pl.Int64, "_N": pl.Int64, "_internal": pl.Int64},
    )
    counts = frame.group_by("campaign_id").agg(pl.len().cast(pl.Int64).alias("_responses"))
    framed = frame.join(info, on="campaign_id")
    by = ["organisation_id", "campaign_id", "_N", "_internal"]
    per_org = engine.ratio_intervals(framed, areas, by=by, population="_N").join(
        counts, on="campaign_id", how="left"
    )
    total_n = int(info.get_column("_N").sum())
    whole = engine.ratio_intervals(frame, areas, population=total_n or None)
    threshold = settings.survey_publication_min_responses
    group_flags = disclosure.primary_only(
        per_org.select("area", "organisation_id", pl.col("respondents").alias("n")),
        by=["area"],
        threshold=threshold,
        min_orgs=settings.disclosure_min_n,
    ).select("area", pl.col("suppressed").alias("_group_hidden"))
    rate = pl.col("_responses") * 100.0 / pl.col("_N")
    withheld, met = _visible(principal, settings, pl.col("respondents"), pl.col("_internal"), rate)
    own = pl.col("organisation_id").is_in(list(principal.organisations))
    flagged = per_org.with_columns(
        withheld.alias("primary"),
        # the viewer's own organisation, shown to it: known, so it protects nobody
        (own & ~withheld).alias("_own"),
        met.alias("threshold_met"),
        pl.col("respondents").alias("n_"),
    ).join(group_flags, on="area", how="left")
    with_total = flagged.filter(~pl.col("_group_hidden"))
    without_total = flagged.filter(pl.col("_group_hidden"))
    protected = disclosure.complementary(
        with_total.rename({"n": "_ratings", "n_": "n"}),
        by=["area"],
        label="organisation_id",
        threshold=threshold,
        known="_own",
    ).rename({"n": "respondents_", "_ratings": "n"})
    rows_org = (
        pl.concat(
            [
                protected.drop("respondents_"),
                without_total.drop("n_").with_columns(pl.col("primary").alias("suppressed")),
            ],
            how="diagonal_relaxed",
        )
        .join(
            whole.select("area", pl.col("mean").alias("_group_mean")),
            on="area",
            how="left",
        )
        .join(group_flags, on="area", how="left", suffix="_g")
    )
    codes = repo.codes_for(session, list(year_of))
    hide = pl.col("suppressed")
    org_rows = rows_org.with_columns(
        figures.half_up_float(pl.col("_group_mean"), 2).cast(pl.Float64).alias("group_mean_2dp"),
        figures.half_up_float(pl.col("mean") - pl.col("_group_mean"), 2)
        .cast(pl.Float64)
        .alias("difference_2dp"),
    ).with_columns(
        *(
            pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("respondents", "n", "mean_2dp", "ci_low_2dp", "ci_high_2dp")
        ),
        pl.when(pl.col("_group_hidden"))
        .then(None)
        .otherwise(pl.col("group_mean_2dp"))
        .alias("group_mean_2dp"),
        pl.when(~pl.col("_group_hidden") & ~hide)
        .then(pl.col("difference_2dp"))
        .alias("difference_2dp"),
        pl.when(hide).then(None).otherwise(pl.col("threshold_met")).alias("threshold_met"),
        pl.when(hide & pl.col("primary"))
        .then(pl.lit("withheld: fewer respondents than the threshold for this view"))
        .when(hide)
        .then(
            pl.lit(
                "withheld so that a withheld organisation's figure cannot be worked out from the "
                "group's"
            )
        )
        .alias("reason"),
    )
    group_rows = whole.join(group_flags, on="area", how="left").with_columns(
        pl.lit(ALL_ORGANISATIONS).alias("code"),
        pl.lit(False).alias("yours"),
        pl.col("_group_hidden").alias("suppressed"),
        pl.col("mean_2dp").alias("group_mean_2dp"),
        pl.lit(None, pl.Float64).alias("difference_2dp"),
    )
    group_rows = group_rows.with_columns(
        *(
            pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("respondents", "n", "mean_2dp", "ci_low_2dp", "ci_high_2dp", "group_mean_2dp")
        ),
        pl.when(pl.col("suppressed"))
        .then(
            pl.lit(
                f"withheld: fewer than {threshold} respondents, fewer than "
                f"{settings.disclosure_min_n} organisations, or fewer than {threshold} outside "
                "the largest organisation"
            )
        )
        .alias("reason"),
        pl.when(pl.col("suppressed"))
        .then(None)
        .otherwise(pl.lit(disclosure.PUBLICATION))
        .alias("threshold_met"),
    )
    out: list[dict[str, Any]] = []
    for area in sorted(areas):
        g = group_rows.filter(pl.col("area") == area).to_dicts()
        out += [{k: r.get(k) for k in SKILLS_COLUMNS} for r in g]
        orgs = [
            {
                **{k: r.get(k) for k in SKILLS_COLUMNS},
                "code": _code(codes, list(year_of), int(r["organisation_id"])),
                "yours": int(r["organisation_id"]) in principal.organisations,
            }
            for r in org_rows.filter(pl.col("area") == area).to_dicts()
        ]
        out += sorted(orgs, key=lambda r: str(r["code"]))
    return SKILLS_COLUMNS, out, meta
