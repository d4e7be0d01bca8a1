from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from services.metrics.explain.links import (
    group_breakdown_links,
    group_factor_links,
    survey_links,
    weighted_links,
)
from services.metrics.surveys import pictures, service
from services.metrics.surveys.schemas import (
    BreakdownTable,
    CommentTable,
    FactorTable,
    GroupBreakdownTable,
    GroupFactorTable,
    RateTable,
    SdmaTable,
    SkillsTable,
    SurveyBenchmarkTable,
    SurveyResults,
    Table,
    WeightedTable,
)
from shared.auth import Principal, require_roles
from shared.clock import Now
from shared.deps import AppSettings, DbSession, IdPath
from shared.images import CHART_RESPONSES, ChartFormatQuery, chart_bytes, chart_response
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/survey-results", tags=["survey results"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "reader"))]
AudienceQuery = Annotated[
    Literal["internal", "publication"] | None,
    Query(
        description="internal (the organisation's own staff: the campaign's threshold; the "
        "default for its staff and admins) or publication (what other organisations, exports "
        "and BI see: n >= the publication minimum and a response rate >= the publication "
        "rate; always the view of a reader key)"
    ),
]
_PAGING = (
    "JSON: a page of `limit` rows (500 unless asked) in `items`, with `columns`; CSV "
    "(`format=csv`): every row with the same columns, or the page asked for with "
    "`limit`/`offset` (then `X-Total-Count` and a `Link` rel=next)."
)


def _table(
    request: Request,
    out: Any,
    envelope: type[Table[Any]],
    columns: list[str],
    rows: list[dict[str, Any]],
    name: str,
    **meta: Any,
) -> Response:
    return table_response(request, out, envelope, columns, rows, name, columns=columns, **meta)


@router.get(
    "/campaigns/{campaign_id}", response_model=SurveyResults, summary="A campaign's results"
)
def campaign_results(
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    audience: AudienceQuery = None,
) -> SurveyResults:
    found = service.results(session, principal, campaign_id, settings, audience)
    return SurveyResults(**found, explanations=survey_links(found))


@router.post(
    "/campaigns/{campaign_id}/compute",
    response_model=SurveyResults,
    summary="Compute a campaign's results now",
)
def compute_results(
    campaign_id: IdPath, session: DbSession, settings: AppSettings, principal: Reader
) -> SurveyResults:
    found = service.recompute(session, principal, campaign_id, settings)
    return SurveyResults(**found, explanations=survey_links(found))


@router.get(
    "/campaigns/{campaign_id}/factors",
    response_model=FactorTable,
    responses=table_responses(FactorTable),
    summary="Per factor: satisfaction, importance, gap, weight gap",
    description=_PAGING,
)
def factors(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    audience: AudienceQuery = None,
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "factors", settings, audience)
    return _table(request, out, FactorTable, columns, rows, f"campaign-{campaign_id}-factors")


@router.get(
    "/campaigns/{campaign_id}/breakdowns",
    response_model=BreakdownTable,
    responses=table_responses(BreakdownTable),
    summary="Breakdowns by attribute, small cells suppressed",
    description=_PAGING,
)
def breakdowns(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    audience: AudienceQuery = None,
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "breakdowns", settings, audience)
    return _table(request, out, BreakdownTable, columns, rows, f"campaign-{campaign_id}-breakdowns")


@router.get(
    "/campaigns/{campaign_id}/weighted",
    response_model=WeightedTable,
    responses=table_responses(WeightedTable),
    summary="Means unweighted and weighted to the headcount, side by side",
    description="Cell weighting when the headcount gives every combination of its attributes, "
    "raking when it gives margins only (``weighting`` says which, why, what was merged, and the "
    "effective sample size). 409 no_headcount when the campaign has none. " + _PAGING,
)
def weighted(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    audience: AudienceQuery = None,
) -> Response:
    columns, rows, meta = service.weighted(session, principal, campaign_id, settings, audience)
    meta["explanations"] = weighted_links(campaign_id, meta["audience"], rows)
    return table_response(
        request,
        out,
        WeightedTable,
        columns,
        rows,
        f"campaign-{campaign_id}-weighted",
        columns=columns,
        **meta,
    )


@router.get(
    "/campaigns/{campaign_id}/comments",
    response_model=CommentTable,
    responses=table_responses(CommentTable),
    summary="Comments (the organisation's own users only)",
    description=_PAGING,
)
def comments(
    request: Request, campaign_id: IdPath, session: DbSession, principal: Reader, out: OutputQuery
) -> Response:
    columns, rows = service.comments(session, principal, campaign_id)
    return _table(request, out, CommentTable, columns, rows, f"campaign-{campaign_id}-comments")


@router.get(
    "/benchmark",
    response_model=SurveyBenchmarkTable,
    responses=table_responses(SurveyBenchmarkTable),
    summary="User-satisfaction metrics across organisations: median and quartiles",
    description=_PAGING + " In CSV, `values` is a JSON array in one cell.",
)
def benchmark(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    now: Now,
    cycle: Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")],
) -> Response:
    resource = f"{request.url.path}?{request.url.query}"
    columns, rows, workshop_ids = service.benchmark(
        session, principal, cycle, settings.disclosure_min_n, now, resource
    )
    return _table(
        request,
        out,
        SurveyBenchmarkTable,
        columns,
        rows,
        f"survey-benchmark-{cycle}",
        workshop_ids=workshop_ids,
    )


# ------------------------------------------------------------- group views (issue 15)

CycleYear = Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")]
_GROUP = (
    " Organisations appear only by code; every cell is under disclosure control at the "
    "publication threshold. "
)


def _meta_table(
    request: Request,
    out: Any,
    envelope: type[Table[Any]],
    found: tuple[list[str], list[dict[str, Any]], dict[str, Any]],
    name: str,
) -> Response:
    columns, rows, meta = found
    return table_response(request, out, envelope, columns, rows, name, columns=columns, **meta)


@router.get(
    "/group/breakdowns",
    response_model=GroupBreakdownTable,
    responses=table_responses(GroupBreakdownTable),
    summary="Overall satisfaction and improvement by attribute across the group",
    description="By device type, location, mode of working and role, across every "
    "participating organisation of a cycle (or several cycles pooled: repeat cycle), "
    "unweighted and weighted side by side, with 95% intervals." + _GROUP + _PAGING,
)
def group_breakdowns(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    cycle: Annotated[
        list[Annotated[int, Field(ge=2000, le=2100)]],
        Query(description="Cycle year(s); several are pooled", min_length=1, max_length=20),
    ],
) -> Response:
    columns, rows, meta = service.group_breakdowns(session, settings, cycle)
    meta["explanations"] = group_breakdown_links(cycle, rows)
    name = "group-breakdowns-" + "-".join(str(c) for c in sorted(set(cycle)))
    return _meta_table(request, out, GroupBreakdownTable, (columns, rows, meta), name)


@router.get(
    "/group/factors",
    response_model=GroupFactorTable,
    responses=table_responses(GroupFactorTable),
    summary="Each factor for a cycle against a pooled earlier baseline",
    description="Satisfaction, importance, gap and weight gap for the cycle beside the same "
    "pooled over earlier cycles (baseline: repeat it; default every earlier cycle with "
    "results). 422 no_baseline when there is none." + _GROUP + _PAGING,
)
def group_factors(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    cycle: CycleYear,
    baseline: Annotated[
        list[Annotated[int, Field(ge=2000, le=2100)]] | None,
        Query(description="Baseline cycle years to pool (default: every earlier one)"),
    ] = None,
) -> Response:
    columns, rows, meta = service.group_factors(session, settings, cycle, baseline or [])
    meta["explanations"] = group_factor_links(cycle, meta["baseline_cycles"], rows)
    found = (columns, rows, meta)
    return _meta_table(request, out, GroupFactorTable, found, f"group-factors-{cycle}")


@router.get(
    "/group/response-rates",
    response_model=RateTable,
    responses=table_responses(RateTable),
    summary="Response rates and their benchmark pooled over the last three cycles",
    description="Each organisation's response rate, raw and adjusted for undeliverable "
    "invitations, in the last three cycles with results up to the cycle; beside the page the "
    "benchmark (median and quartiles of the rates, type 7) and the pooled rate." + _GROUP + _PAGING,
)
def group_response_rates(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    cycle: CycleYear,
) -> Response:
    found = service.group_response_rates(session, principal, settings, cycle)
    return _meta_table(request, out, RateTable, found, f"group-response-rates-{cycle}")


@router.get(
    "/group/sdma",
    response_model=SdmaTable,
    responses=table_responses(SdmaTable),
    summary="SDMA's nine areas per organisation with progress across cycles",
    description="Every cycle up to the one asked about. No peer comparison: a participant "
    "sees only its own organisations; an admin sees every organisation by code." + _PAGING,
)
def group_sdma(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    cycle: CycleYear,
) -> Response:
    found = service.group_sdma(session, principal, settings, cycle)
    return _meta_table(request, out, SdmaTable, found, f"group-sdma-{cycle}")


@router.get(
    "/group/skills",
    response_model=SkillsTable,
    responses=table_responses(SkillsTable),
    summary="User-skills results per area for each organisation against the group",
    description="IT literacy and understanding of IT policies." + _GROUP + _PAGING,
)
def group_skills(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    cycle: CycleYear,
) -> Response:
    found = service.group_skills(session, principal, settings, cycle)
    return _meta_table(request, out, SkillsTable, found, f"group-skills-{cycle}")


# ------------------------------------------------------------------ pictures


@router.get(
    "/campaigns/{campaign_id}/charts/factors",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="Satisfaction, importance and weight gap per factor, drawn (SVG or PNG)",
)
def factors_chart(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    format: ChartFormatQuery = "svg",
) -> Response:
    found = service.results(session, principal, campaign_id, settings)
    return chart_response(request, chart_bytes(pictures.factors(found), format), format)


@router.get(
    "/campaigns/{campaign_id}/charts/breakdowns",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="Overall satisfaction by one attribute (e.g. device type), drawn (SVG or PNG)",
    description="Cells too small to show are drawn as a dash and named, with the reason, "
    "in the chart's description.",
)
def breakdown_chart(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    attribute: Annotated[
        str, Query(min_length=1, max_length=100, description="e.g. attr.device_type")
    ],
    format: ChartFormatQuery = "svg",
) -> Response:
    found = service.results(session, principal, campaign_id, settings)
    svg = pictures.breakdown(found, attribute)
    return chart_response(request, chart_bytes(svg, format), format)


@router.get(
    "/group/charts/response-rates",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="Each organisation's response rate in a cycle, drawn (SVG or PNG)",
    description="The rows of /group/response-rates for the cycle, by code, each labelled as "
    "the table prints it (e.g. 6.4% (20 out of 313)), yours marked, with the benchmark "
    "median; when the benchmark is withheld the chart says why." + _GROUP,
)
def group_response_rates_chart(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    cycle: CycleYear,
    format: ChartFormatQuery = "svg",
) -> Response:
    found = service.group_response_rates(session, principal, settings, cycle)
    svg = pictures.group_response_rates(found, cycle)
    return chart_response(request, chart_bytes(svg, format), format)


@router.get(
    "/group/charts/factors",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="One measure of every factor for a cycle beside the pooled baseline, drawn",
    description="Satisfaction, importance or weight gap (measure) from /group/factors: the "
    "cycle beside the baseline pooled over earlier cycles. Withheld cells are drawn as a "
    "dash and named, with the reason, in the chart's description; if every cell is "
    "withheld nothing is drawn and the chart says why." + _GROUP,
)
def group_factors_chart(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    cycle: CycleYear,
    baseline: Annotated[
        list[Annotated[int, Field(ge=2000, le=2100)]] | None,
        Query(description="Baseline cycle years to pool (default: every earlier one)"),
    ] = None,
    measure: Annotated[
        pictures.Measure, Query(description="satisfaction, importance or weight_gap")
    ] = "satisfaction",
    format: ChartFormatQuery = "svg",
) -> Response:
    found = service.group_factors(session, settings, cycle, baseline or [])
    svg = pictures.group_factors(found, measure)
    return chart_response(request, chart_bytes(svg, format), format)
