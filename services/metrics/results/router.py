from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from services.metrics.benchmark.recompute import recompute
from services.metrics.results import service
from services.metrics.results.cache import Body, ResultCache
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
from services.metrics.results.service import Access, PeerGroup
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.deps import MAX_INT32, AppSettings, DbSession
from shared.tabular import CSV_MEDIA_TYPE, csv_text

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


def results_cache(request: Request) -> ResultCache:
    cache: ResultCache = request.app.state.results_cache
    return cache


Group = Annotated[PeerGroup, Depends(peer_group)]
Cache = Annotated[ResultCache, Depends(results_cache)]

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


def _serve(
    cache: ResultCache, access: Access, key: tuple[Hashable, ...], build: Callable[[], Body]
) -> Response:
    """The response for ``key``, from the cache when this request read the same data
    version; ``access`` was checked for this request before this is called."""
    body = cache.get_or_build((*key, access.is_admin), access.version, build)
    headers = (
        {"Content-Disposition": f'attachment; filename="{body.filename}"'}
        if body.filename
        else None
    )
    return Response(body.content, media_type=body.media_type, headers=headers)


# ------------------------------------------------------------------ comparison
# Every results endpoint: check access (fresh, every request), then serve the rendered
# body for (endpoint, format, organisation, cycle, peer group[, metric]) at this request's
# data version. The response models stay declared for the OpenAPI document.


@router.get(
    "/comparison",
    response_model=Comparison,
    summary="My organisation against a peer group, every metric",
)
def comparison(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> Response:
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("comparison", "json", organisation_id, cycle, group.key),
        lambda: _json(
            _COMPARISON, service.comparison(session, settings, access, organisation_id, group)
        ),
    )


@router.get(
    "/comparison.json",
    response_model=list[ComparisonRow],
    summary="The comparison as flat JSON rows (BI tools)",
)
def comparison_flat(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> Response:
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("comparison", "flat", organisation_id, cycle, group.key),
        lambda: _json(
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
def comparison_csv(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
) -> Response:
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("comparison", "csv", organisation_id, cycle, group.key),
        lambda: _csv(
            ComparisonRow,
            service.comparison(session, settings, access, organisation_id, group)["rows"],
            f"comparison-{cycle}",
        ),
    )


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
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("distribution", "json", organisation_id, cycle, group.key, metric),
        lambda: _json(
            _DISTRIBUTION,
            service.distribution(session, settings, access, organisation_id, metric, group),
        ),
    )


@router.get(
    "/distribution.json",
    response_model=list[DistributionRow],
    summary="The distribution as flat JSON rows (BI tools)",
)
def distribution_flat(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("distribution", "flat", organisation_id, cycle, group.key, metric),
        lambda: _json(
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
def distribution_csv(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("distribution", "csv", organisation_id, cycle, group.key, metric),
        lambda: _csv(
            DistributionRow,
            service.distribution(session, settings, access, organisation_id, metric, group)["rows"],
            f"distribution-{cycle}-{metric}",
        ),
    )


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
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    service.check_trends_group(group)
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("trends", "json", organisation_id, cycle, group.key, metric),
        lambda: _json(
            _TRENDS, service.trends(session, settings, access, organisation_id, metric, group)
        ),
    )


@router.get(
    "/trends.json", response_model=list[TrendRow], summary="Trends as flat JSON rows (BI tools)"
)
def trends_flat(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    service.check_trends_group(group)
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("trends", "flat", organisation_id, cycle, group.key, metric),
        lambda: _json(
            _TREND_ROWS,
            service.trends(session, settings, access, organisation_id, metric, group)["rows"],
        ),
    )


@router.get("/trends.csv", response_class=Response, responses=CSV_RESPONSE, summary="Trends as CSV")
def trends_csv(
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    cache: Cache,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
) -> Response:
    service.check_trends_group(group)
    access = service.check_access(session, settings, principal, organisation_id, cycle)
    return _serve(
        cache,
        access,
        ("trends", "csv", organisation_id, cycle, group.key, metric),
        lambda: _csv(
            TrendRow,
            service.trends(session, settings, access, organisation_id, metric, group)["rows"],
            f"trends-{cycle}-{metric}",
        ),
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
        **recompute(
            session,
            body.cycle_years,
            min_n=settings.disclosure_min_n,
            trigger=f"manual:{principal.subject}",
        )
    )
