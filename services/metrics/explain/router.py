from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from services.metrics.benchmark.router import Group
from services.metrics.benchmark.router import _answer as results_answer
from services.metrics.explain import service
from services.metrics.explain.schemas import (
    BenchmarkExplanation,
    ExplanationRow,
    MetricValueExplanation,
    NpsExplanation,
    NpsExplanationRow,
    PackExplanationRow,
    PackTotalExplanation,
    SlaPercentageExplanation,
    SurveyExplanationRow,
    SurveyFigureExplanation,
    SurveyGroupExplanation,
    SurveyWeightedExplanation,
)
from services.metrics.nps.router import SURVEY_ROLES
from services.metrics.nps.schemas import Source as NpsSource
from services.metrics.packs.router import Reader as PackReader
from services.metrics.sla.router import Reader, check_months
from services.metrics.sla.service import visible_organisations
from services.metrics.surveys.router import AudienceQuery
from services.metrics.surveys.router import Reader as SurveyReader
from shared.auth import CurrentPrincipal
from shared.clock import Now
from shared.deps import MAX_INT32, AppSettings, DbSession
from shared.errors import Forbidden
from shared.tabular import OutputQuery, table_response, table_responses
from shared.types import IsoDate

router = APIRouter(prefix="/api/v1/explain", tags=["explain"])

OrgQuery = Annotated[int, Query(ge=1, le=MAX_INT32, description="Your organisation's id")]
CycleQuery = Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")]
MetricQuery = Annotated[str, Query(min_length=1, max_length=100, description="Metric key")]
COLUMNS = list(ExplanationRow.model_fields)


@router.get(
    "/metric-value",
    response_model=MetricValueExplanation,
    responses=table_responses(MetricValueExplanation),
    summary="How my metric value was made: formula, inputs and where they came from",
)
def metric_value(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    out: OutputQuery,
) -> Response:
    access = service.access_for(session, settings, principal, organisation_id, cycle)
    data = service.metric_value(session, access, organisation_id, metric)
    rows = data.pop("rows")
    return table_response(
        request, out, MetricValueExplanation, COLUMNS, rows, f"explain-{metric}", **data
    )


@router.get(
    "/benchmark",
    response_model=BenchmarkExplanation,
    responses=table_responses(BenchmarkExplanation),
    summary="How a benchmark statistic was made: peers as codes with their values, the "
    "quantile method, the suppression rule",
)
async def benchmark(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    out: OutputQuery,
    now: Now,
) -> Response:
    # Served as the results are (benchmark.router's one path): access decided afresh on
    # each request, the body kept in the results cache under the same data version as
    # the statistic it explains, so a recompute or publication refreshes both at once.
    return await results_answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("explain-benchmark", organisation_id, cycle, group.key, metric),
        out,
        BenchmarkExplanation,
        ExplanationRow,
        f"explain-{metric}-benchmark",
        lambda session, settings, access: service.benchmark(
            session, settings, access, organisation_id, metric, group
        ),
        now,
    )


@router.get(
    "/sla-percentage",
    response_model=SlaPercentageExplanation,
    responses=table_responses(SlaPercentageExplanation),
    summary="How a monthly SLA % met was made: the rule, the ticket counts with their "
    "filter, the policy targets",
)
def sla_percentage(
    request: Request,
    session: DbSession,
    principal: Reader,
    organisation_id: OrgQuery,
    priority: Annotated[Literal["P0", "P1", "P2", "P3", "P4"], Query(description="Priority")],
    month: Annotated[IsoDate, Query(description="Any day of the month (its first day)")],
    out: OutputQuery,
    team: Annotated[list[str] | None, Query(description="Teams, as in the report")] = None,
    closure_category: Annotated[
        list[str] | None, Query(description="Closure categories, as in the report")
    ] = None,
) -> Response:
    visible_organisations(principal, [organisation_id])
    data = service.sla_percentage(
        session, organisation_id, priority, month.replace(day=1), team, closure_category
    )
    rows = data.pop("rows")
    return table_response(
        request,
        out,
        SlaPercentageExplanation,
        COLUMNS,
        rows,
        f"explain-sla-{priority}-{month:%Y-%m}",
        **data,
    )


SURVEY_COLUMNS = list(SurveyExplanationRow.model_fields)


@router.get(
    "/survey-figure",
    response_model=SurveyFigureExplanation,
    responses=table_responses(SurveyFigureExplanation),
    summary="How a survey figure was made: formula, counts and sums, thresholds, "
    "suppression, interval method",
    description="A campaign's mean (overall, improvement, a factor's satisfaction or "
    "importance; a breakdown cell's overall or improvement with `attribute` and `cell`), "
    "% worse, response rate (raw or adjusted) or NPS, as the campaign's results show it to "
    "you (same access and audience). A withheld figure's explanation says it is withheld "
    "and why, and nothing more.",
)
def survey_figure(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: SurveyReader,
    campaign_id: Annotated[int, Query(ge=1, le=MAX_INT32, description="The campaign")],
    figure: Annotated[
        Literal["response_rate", "response_rate_adjusted", "mean", "percent_worse", "nps"],
        Query(description="Which figure"),
    ],
    out: OutputQuery,
    key: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=40,
            description="A mean's question: overall, improvement, S1.satisfaction … S20.importance",
        ),
    ] = None,
    attribute: Annotated[
        str | None, Query(min_length=1, max_length=100, description="e.g. attr.role")
    ] = None,
    cell: Annotated[
        str | None, Query(min_length=1, max_length=200, description="The attribute's value")
    ] = None,
    audience: AudienceQuery = None,
) -> Response:
    data = service.survey_figure(
        session, settings, principal, campaign_id, figure, key, attribute, cell, audience
    )
    rows = data.pop("rows")
    return table_response(
        request,
        out,
        SurveyFigureExplanation,
        SURVEY_COLUMNS,
        rows,
        f"explain-campaign-{campaign_id}-{figure}",
        **data,
    )


PACK_COLUMNS = list(PackExplanationRow.model_fields)


@router.get(
    "/pack-total",
    response_model=PackTotalExplanation,
    responses=table_responses(PackTotalExplanation),
    summary="How a committee pack's total was made: the rows it sums and their source",
    description="An outturn group's or the grand total's column, a cost table's total (all "
    "organisations or one; one column or across them), or the KPI summary's SLA % of a "
    "priority; of the live draft, or of a stored version (its frozen figures). Admins, the "
    "shared service and its partner organisations only; others 403.",
)
def pack_total(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: PackReader,
    service_id: Annotated[int, Query(ge=1, le=MAX_INT32, description="The shared service")],
    financial_year: Annotated[int, Query(ge=2000, le=2100, description="Financial year")],
    period: Annotated[int, Query(ge=1, le=12, description="Period: P1 = April … P12 = March")],
    figure: Annotated[
        Literal["outturn_group", "outturn_total", "cost_total", "kpi_sla"],
        Query(description="Which total"),
    ],
    out: OutputQuery,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Stored version; none: the draft")
    ] = None,
    key: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="outturn_group: the group key; cost_total: the table's title; "
            "kpi_sla: the priority",
        ),
    ] = None,
    column: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Outturn: budget, forecast, variance, actuals or remaining; cost "
            "table: one of its columns (none: across them)",
        ),
    ] = None,
    organisation_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="A cost table's organisation")
    ] = None,
) -> Response:
    data = service.pack_total(
        session,
        settings,
        principal,
        service_id,
        financial_year,
        period,
        version,
        figure,
        key,
        column,
        organisation_id,
    )
    rows = data.pop("rows")
    return table_response(
        request,
        out,
        PackTotalExplanation,
        PACK_COLUMNS,
        rows,
        f"explain-pack-{service_id}-{financial_year}-P{period}-{figure}",
        **data,
    )


NPS_COLUMNS = list(NpsExplanationRow.model_fields)


@router.get(
    "/nps",
    response_model=NpsExplanation,
    responses=table_responses(NpsExplanation),
    summary="How an NPS report row was made: the ratings counted, 0 to 10, the bands, the "
    "rule and the rounding",
    description="One row of `GET /api/v1/nps` (the same `source`, `month_from` and "
    "`month_to`): an organisation's month (`month`), or its whole period (no `month`). "
    "Counts of ratings only, never a ticket or a response; the organisations you may see "
    "in the report only (others 403); survey ratings need the admin, participant or reader "
    "role. A row the report does not have is a 404.",
)
def nps(
    request: Request,
    session: DbSession,
    principal: Reader,
    source: Annotated[NpsSource, Query(description="tickets, feedback or survey")],
    organisation_id: OrgQuery,
    out: OutputQuery,
    month: Annotated[
        IsoDate | None, Query(description="The row's month (any day in it); none: whole period")
    ] = None,
    month_from: Annotated[IsoDate | None, Query(description="The report's first month")] = None,
    month_to: Annotated[IsoDate | None, Query(description="The report's last month")] = None,
) -> Response:
    check_months(month_from, month_to)
    if source == "survey" and not principal.has_any_role(SURVEY_ROLES):
        raise Forbidden(
            "Survey NPS needs one of the roles: admin, participant, reader.",
            code="role_forbidden",
        )
    visible_organisations(principal, [organisation_id])
    data = service.nps_row(session, source, organisation_id, month, month_from, month_to)
    rows = data.pop("rows")
    when = "all" if month is None else f"{month:%Y-%m}"
    return table_response(
        request,
        out,
        NpsExplanation,
        NPS_COLUMNS,
        rows,
        f"explain-nps-{source}-{organisation_id}-{when}",
        **data,
    )


CycleList = Annotated[
    list[Annotated[int, Field(ge=2000, le=2100)]],
    Query(description="Cycle year(s), as the view was asked", min_length=1, max_length=20),
]


@router.get(
    "/survey-group-breakdown",
    response_model=SurveyGroupExplanation,
    responses=table_responses(SurveyGroupExplanation),
    summary="How a group breakdown cell was made: sums across the organisations, "
    "thresholds, interval and weighting",
    description="A cell of `GET /api/v1/survey-results/group/breakdowns` (the same cycles; "
    "`attribute` all with `value` All respondents for the group's row): its ratings, Σx, "
    "Σx², and the weighted sums Σw, Σwx, Σwx², Σw² across every organisation, the t "
    "quantiles and the population, from which the mean, the weighted mean, the effective "
    "sample size and their intervals recompute. Never an organisation's own figure or a "
    "respondent's answers; a withheld cell says so and why, and nothing more.",
)
def survey_group_breakdown(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: SurveyReader,
    cycle: CycleList,
    attribute: Annotated[
        str, Query(min_length=1, max_length=100, description="all, or attr.role …")
    ],
    value: Annotated[str, Query(min_length=1, max_length=200, description="The cell's value")],
    measure: Annotated[Literal["overall", "improvement"], Query(description="Which mean")],
    out: OutputQuery,
) -> Response:
    data = service.survey_group_breakdown(session, settings, cycle, attribute, value, measure)
    rows = data.pop("rows")
    years = "-".join(str(c) for c in sorted(set(cycle)))
    return table_response(
        request,
        out,
        SurveyGroupExplanation,
        SURVEY_COLUMNS,
        rows,
        f"explain-group-breakdown-{years}-{measure}",
        **data,
    )


@router.get(
    "/survey-group-factor",
    response_model=SurveyGroupExplanation,
    responses=table_responses(SurveyGroupExplanation),
    summary="How a group factor's figures were made, this cycle or the pooled baseline",
    description="A row of `GET /api/v1/survey-results/group/factors` (the same `cycle` and "
    "`baseline`): for `period` cycle or baseline, the sums of the factor's satisfaction and "
    "importance ratings across the organisations (means, intervals, gap, weight gap and, for "
    "the cycle, the weighted figures recompute from them). A withheld figure says so and "
    "why, and nothing more.",
)
def survey_group_factor(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: SurveyReader,
    cycle: CycleQuery,
    factor: Annotated[str, Query(pattern=r"^S([1-9]|1[0-9]|20)$", description="S1 … S20")],
    period: Annotated[Literal["cycle", "baseline"], Query(description="Which figures")],
    out: OutputQuery,
    baseline: Annotated[
        list[Annotated[int, Field(ge=2000, le=2100)]] | None,
        Query(description="The baseline cycles, as the view was asked"),
    ] = None,
) -> Response:
    data = service.survey_group_factor(session, settings, cycle, baseline or [], factor, period)
    rows = data.pop("rows")
    return table_response(
        request,
        out,
        SurveyGroupExplanation,
        SURVEY_COLUMNS,
        rows,
        f"explain-group-factor-{cycle}-{factor}-{period}",
        **data,
    )


@router.get(
    "/survey-weighted",
    response_model=SurveyWeightedExplanation,
    responses=table_responses(SurveyWeightedExplanation),
    summary="How a weighted-table row was made: sums unweighted and weighted, the "
    "weighting method, the headcount and the weights",
    description="A row of `GET /api/v1/survey-results/campaigns/{id}/weighted` (the same "
    "access and audience; no `attribute` for all responses): the ratings, Σx, Σx² and the "
    "weighted sums from which the means, intervals and effective size recompute; for the "
    "internal audience the headcount's cells and each weighting cell's weight (cells under "
    "the campaign's threshold not shown). A withheld row says so and why, and nothing more.",
)
def survey_weighted(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: SurveyReader,
    campaign_id: Annotated[int, Query(ge=1, le=MAX_INT32, description="The campaign")],
    figure: Annotated[
        str,
        Query(
            min_length=1,
            max_length=40,
            description="overall, improvement, S1.satisfaction … S20.importance",
        ),
    ],
    out: OutputQuery,
    attribute: Annotated[
        str | None, Query(min_length=1, max_length=100, description="e.g. attr.role")
    ] = None,
    value: Annotated[
        str | None, Query(min_length=1, max_length=200, description="The attribute's value")
    ] = None,
    audience: AudienceQuery = None,
) -> Response:
    data = service.survey_weighted(
        session, settings, principal, campaign_id, figure, attribute, value, audience
    )
    rows = data.pop("rows")
    return table_response(
        request,
        out,
        SurveyWeightedExplanation,
        SURVEY_COLUMNS,
        rows,
        f"explain-campaign-{campaign_id}-weighted",
        **data,
    )
