from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from services.metrics.benchmark.recompute import recompute
from services.metrics.results import service
from services.metrics.results.schemas import (
    Comparison,
    ComparisonRow,
    Distribution,
    DistributionRow,
    PeerGroupInfo,
    RecomputeBody,
    RecomputeResult,
    TrendRow,
    Trends,
)
from services.metrics.results.service import PeerGroup
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.deps import MAX_INT32, AppSettings, DbSession
from shared.tabular import csv_response

router = APIRouter(prefix="/api/v1/results", tags=["results"])
admin_router = APIRouter(prefix="/api/v1/benchmarks", tags=["results"])

OrgQuery = Annotated[int, Query(ge=1, le=MAX_INT32, description="Your organisation's id")]
CycleQuery = Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")]
MetricQuery = Annotated[str, Query(min_length=1, max_length=100, description="Metric key")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV, UTF-8, header row",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def peer_group(
    peer_group: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Standard group: all, past, type:L, nation:Wales, partnership:true, "
            "size:1000-2499",
        ),
    ] = None,
    type: Annotated[list[str] | None, Query(description="Custom: organisation types")] = None,
    nation: Annotated[list[str] | None, Query(description="Custom: nations")] = None,
    partnership: Annotated[bool | None, Query(description="Custom: partnership flag")] = None,
    size: Annotated[list[str] | None, Query(description="Custom: size bands")] = None,
    peer_cycle: Annotated[
        int | None, Query(ge=2000, le=2100, description="Custom: peers' values from this cycle")
    ] = None,
) -> PeerGroup:
    return service.resolve_group(peer_group, type, nation, partnership, size, peer_cycle)


Group = Annotated[PeerGroup, Depends(peer_group)]


def _csv(model: type[BaseModel], rows: list[dict[str, Any]], name: str) -> Response:
    return csv_response(list(model.model_fields), rows, name)


# ------------------------------------------------------------------ comparison


@router.get(
    "/comparison",
    response_model=Comparison,
    summary="My organisation against a peer group, every metric",
)
def comparison(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> dict[str, Any]:
    return service.comparison(session, settings, principal, organisation_id, cycle, group)


@router.get(
    "/comparison.json",
    response_model=list[ComparisonRow],
    summary="The comparison as flat JSON rows (BI tools)",
)
def comparison_flat(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = service.comparison(
        session, settings, principal, organisation_id, cycle, group
    )["rows"]
    return rows


@router.get(
    "/comparison.csv",
    response_class=Response,
    responses=CSV_RESPONSE,
    summary="The comparison as CSV",
)
def comparison_csv(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> Response:
    data = service.comparison(session, settings, principal, organisation_id, cycle, group)
    return _csv(ComparisonRow, data["rows"], f"comparison-{cycle}")


# ------------------------------------------------------------------ distribution


@router.get(
    "/distribution",
    response_model=Distribution,
    summary="One metric: every peer's anonymous code and value, in value order",
)
def distribution(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> dict[str, Any]:
    return service.distribution(session, settings, principal, organisation_id, cycle, metric, group)


@router.get(
    "/distribution.json",
    response_model=list[DistributionRow],
    summary="The distribution as flat JSON rows (BI tools)",
)
def distribution_flat(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = service.distribution(
        session, settings, principal, organisation_id, cycle, metric, group
    )["rows"]
    return rows


@router.get(
    "/distribution.csv",
    response_class=Response,
    responses=CSV_RESPONSE,
    summary="The distribution as CSV",
)
def distribution_csv(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    data = service.distribution(session, settings, principal, organisation_id, cycle, metric, group)
    return _csv(DistributionRow, data["rows"], f"distribution-{cycle}-{metric}")


# ------------------------------------------------------------------ trends


@router.get(
    "/trends",
    response_model=Trends,
    summary="One metric across cycles: the benchmark and my value, definition changes flagged",
)
def trends(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> dict[str, Any]:
    return service.trends(session, settings, principal, organisation_id, cycle, metric, group)


@router.get(
    "/trends.json", response_model=list[TrendRow], summary="Trends as flat JSON rows (BI tools)"
)
def trends_flat(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = service.trends(
        session, settings, principal, organisation_id, cycle, metric, group
    )["rows"]
    return rows


@router.get("/trends.csv", response_class=Response, responses=CSV_RESPONSE, summary="Trends as CSV")
def trends_csv(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    data = service.trends(session, settings, principal, organisation_id, cycle, metric, group)
    return _csv(TrendRow, data["rows"], f"trends-{cycle}-{metric}")


# ------------------------------------------------------------------ admin


@admin_router.get(
    "/peer-groups",
    response_model=list[PeerGroupInfo],
    summary="Standard peer groups of a cycle with their sizes (admins)",
)
def peer_groups(
    session: DbSession, _principal: AdminPrincipal, cycle: CycleQuery
) -> list[PeerGroupInfo]:
    return [PeerGroupInfo(**g) for g in service.peer_groups(session, cycle)]


@admin_router.post(
    "/recompute",
    response_model=RecomputeResult,
    summary="Recompute metric values and statistics now (admins)",
)
def recompute_now(
    body: RecomputeBody, session: DbSession, settings: AppSettings, principal: AdminPrincipal
) -> RecomputeResult:
    return RecomputeResult(
        **recompute(
            session,
            body.cycle_years,
            min_n=settings.disclosure_min_n,
            trigger=f"manual:{principal.subject}",
        )
    )
