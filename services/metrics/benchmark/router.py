from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.orm import Session

from services.metrics.benchmark import service
from services.metrics.benchmark.cache import Body, ResultCache
from services.metrics.benchmark.schemas import (
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
from services.metrics.benchmark.service import Access, PeerGroup
from shared.auth import AdminPrincipal, CurrentPrincipal, Principal
from shared.deps import MAX_INT32, AppSettings, DbSession
from shared.settings import Settings
from shared.tabular import CSV_MEDIA_TYPE, CsvBom, csv_text, with_bom

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


async def peer_group(
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
Build = Callable[[Session, Settings, Access], Body]

# Validated and serialised once per cache miss (pydantic-core writes the JSON), instead of
# FastAPI validating the returned dict against the response model on every request.
_COMPARISON = TypeAdapter(Comparison)
_COMPARISON_ROWS = TypeAdapter(list[ComparisonRow])
_DISTRIBUTION = TypeAdapter(Distribution)
_DISTRIBUTION_ROWS = TypeAdapter(list[DistributionRow])
_TRENDS = TypeAdapter(Trends)
_TREND_ROWS = TypeAdapter(list[TrendRow])


def _json(adapter: TypeAdapter[Any], data: Any) -> Body:
    return Body(adapter.dump_json(adapter.validate_python(data)), "application/json")


def _csv(model: type[BaseModel], rows: list[dict[str, Any]], name: str) -> Body:
    body = csv_text(list(model.model_fields), rows).encode("utf-8")
    return Body(body, CSV_MEDIA_TYPE, f"{name}.csv")


def _build(app: Any, build: Build, access: Access) -> Body:
    # Read-only: the session is only read from, so there is nothing to commit.
    with app.state.sessionmaker() as session:
        return build(session, app.state.settings, access)


async def _answer(
    request: Request,
    principal: Principal,
    organisation_id: int,
    cycle: int,
    key: tuple[Hashable, ...],
    build: Build,
    *,
    bom: bool = False,
) -> Response:
    """Every results endpoint: decide access afresh (role and scope, then the cycle and
    the data version from this request's snapshot), then serve the rendered body for
    ``key`` at that version: from the cache, or built in the thread pool on a miss.

    Async, so a cache hit runs on the event loop with no thread hand-off and no
    connection checked out: the snapshot is the request's only I/O (see snapshots.py)."""
    app = request.app
    service.check_caller(principal, organisation_id)
    snap = await app.state.snapshots.read(cycle, organisation_id)
    access = service.check_access(app.state.settings, principal, organisation_id, cycle, snap)
    cache: ResultCache = app.state.results_cache
    full_key = (*key, access.is_admin)
    body = cache.get(full_key, access.version)
    if body is None:
        body = await run_in_threadpool(_build, app, build, access)
        cache.put(full_key, access.version, body)
    headers = (
        {"Content-Disposition": f'attachment; filename="{body.filename}"'}
        if body.filename
        else None
    )
    # The cache holds the body without a BOM; ``bom=1`` is added as it goes out.
    return Response(with_bom(body.content, bom), media_type=body.media_type, headers=headers)


# ------------------------------------------------------------------ comparison
# Key: (endpoint, format, organisation, cycle, peer group[, metric]); the response models
# stay declared for the OpenAPI document.


@router.get(
    "/comparison",
    response_model=Comparison,
    summary="My organisation against a peer group, every metric",
)
async def comparison(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("comparison", "json", organisation_id, cycle, group.key),
        lambda session, settings, access: _json(
            _COMPARISON, service.comparison(session, settings, access, organisation_id, group)
        ),
    )


@router.get(
    "/comparison.json",
    response_model=list[ComparisonRow],
    summary="The comparison as flat JSON rows (BI tools)",
)
async def comparison_flat(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("comparison", "flat", organisation_id, cycle, group.key),
        lambda session, settings, access: _json(
            _COMPARISON_ROWS,
            service.comparison(session, settings, access, organisation_id, group)["rows"],
        ),
    )


@router.get(
    "/comparison.csv",
    response_class=Response,
    responses=CSV_RESPONSE,
    summary="The comparison as CSV",
)
async def comparison_csv(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
    bom: CsvBom = False,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("comparison", "csv", organisation_id, cycle, group.key),
        lambda session, settings, access: _csv(
            ComparisonRow,
            service.comparison(session, settings, access, organisation_id, group)["rows"],
            f"comparison-{cycle}",
        ),
        bom=bom,
    )


# ------------------------------------------------------------------ distribution


@router.get(
    "/distribution",
    response_model=Distribution,
    summary="One metric: every peer's anonymous code and value, in value order",
)
async def distribution(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("distribution", "json", organisation_id, cycle, group.key, metric),
        lambda session, settings, access: _json(
            _DISTRIBUTION,
            service.distribution(session, settings, access, organisation_id, metric, group),
        ),
    )


@router.get(
    "/distribution.json",
    response_model=list[DistributionRow],
    summary="The distribution as flat JSON rows (BI tools)",
)
async def distribution_flat(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("distribution", "flat", organisation_id, cycle, group.key, metric),
        lambda session, settings, access: _json(
            _DISTRIBUTION_ROWS,
            service.distribution(session, settings, access, organisation_id, metric, group)["rows"],
        ),
    )


@router.get(
    "/distribution.csv",
    response_class=Response,
    responses=CSV_RESPONSE,
    summary="The distribution as CSV",
)
async def distribution_csv(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    bom: CsvBom = False,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("distribution", "csv", organisation_id, cycle, group.key, metric),
        lambda session, settings, access: _csv(
            DistributionRow,
            service.distribution(session, settings, access, organisation_id, metric, group)["rows"],
            f"distribution-{cycle}-{metric}",
        ),
        bom=bom,
    )


# ------------------------------------------------------------------ trends


@router.get(
    "/trends",
    response_model=Trends,
    summary="One metric across cycles: the benchmark and my value, definition changes flagged",
)
async def trends(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    service.check_trends_group(group)
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("trends", "json", organisation_id, cycle, group.key, metric),
        lambda session, settings, access: _json(
            _TRENDS, service.trends(session, settings, access, organisation_id, metric, group)
        ),
    )


@router.get(
    "/trends.json", response_model=list[TrendRow], summary="Trends as flat JSON rows (BI tools)"
)
async def trends_flat(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    service.check_trends_group(group)
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("trends", "flat", organisation_id, cycle, group.key, metric),
        lambda session, settings, access: _json(
            _TREND_ROWS,
            service.trends(session, settings, access, organisation_id, metric, group)["rows"],
        ),
    )


@router.get("/trends.csv", response_class=Response, responses=CSV_RESPONSE, summary="Trends as CSV")
async def trends_csv(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    bom: CsvBom = False,
) -> Response:
    service.check_trends_group(group)
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("trends", "csv", organisation_id, cycle, group.key, metric),
        lambda session, settings, access: _csv(
            TrendRow,
            service.trends(session, settings, access, organisation_id, metric, group)["rows"],
            f"trends-{cycle}-{metric}",
        ),
        bom=bom,
    )


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
        **service.recompute(
            session,
            body.cycle_years,
            min_n=settings.disclosure_min_n,
            trigger=f"manual:{principal.subject}",
        )
    )
