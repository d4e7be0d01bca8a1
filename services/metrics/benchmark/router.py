from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from services.metrics.benchmark import pictures, service
from services.metrics.benchmark.cache import Body, ResultCache
from services.metrics.benchmark.schemas import (
    Comparison,
    ComparisonRow,
    Distribution,
    DistributionRow,
    PeerGroupInfo,
    PeerGroups,
    RecomputeBody,
    RecomputeResult,
    TrendRow,
    Trends,
)
from services.metrics.benchmark.service import Access, PeerGroup
from services.metrics.workshops import service as workshops
from services.metrics.workshops.repository import Window
from shared.auth import AdminPrincipal, CurrentPrincipal, Principal
from shared.clock import Now
from shared.conditional import body_response
from shared.db.engine import ReadRouter, min_data_version, note_data_version
from shared.deps import MAX_INT32, AppSettings, DbSession
from shared.errors import DatabaseUnavailable
from shared.images import (
    CHART_RESPONSES,
    ChartFormat,
    ChartFormatQuery,
    chart_bytes,
    chart_response,
)
from shared.pagination import PageParams, make_page, next_link, page_params
from shared.settings import Settings
from shared.tabular import (
    CSV_MEDIA_TYPE,
    PARQUET_MEDIA_TYPE,
    Output,
    OutputQuery,
    csv_download_headers,
    csv_text,
    parquet_bytes,
    table_responses,
    with_bom,
)

router = APIRouter(prefix="/api/v1/results", tags=["results"])
admin_router = APIRouter(prefix="/api/v1/benchmarks", tags=["results"])

OrgQuery = Annotated[int, Query(ge=1, le=MAX_INT32, description="Your organisation's id")]
CycleQuery = Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")]
MetricQuery = Annotated[str, Query(min_length=1, max_length=100, description="Metric key")]
_PAGING = (
    "JSON (`format=json`, the default): the rows in `items`, a page of `limit` (500 unless "
    "asked), with the context beside them. CSV (`format=csv`): every row with the same "
    "columns, or the page asked for with `limit`/`offset` (then `X-Total-Count` and a "
    "`Link` rel=next)."
)


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

Rendered = Callable[[Session, Settings, Access], dict[str, Any]]


def _render(
    request: Request,
    out: Output,
    envelope: type[BaseModel],
    row: type[BaseModel],
    data: dict[str, Any],
    name: str,
) -> Body:
    """One result as the client asked for it: the JSON envelope of ``out``'s page, the
    result's context beside it, or the rows as CSV (every row unless paged)."""
    rows: list[dict[str, Any]] = data.pop("rows")
    total = len(rows)
    chosen = rows[out.offset : out.offset + out.limit] if out.paged else rows
    if out.format == "csv":
        body = csv_text(list(row.model_fields), chosen).encode("utf-8")
        return Body(body, CSV_MEDIA_TYPE, f"{name}.csv", total)
    if out.format == "parquet":
        body = parquet_bytes(list(row.model_fields), chosen)
        return Body(body, PARQUET_MEDIA_TYPE, f"{name}.parquet", total)
    page = {
        "items": rows[out.offset : out.offset + out.limit],
        "total": total,
        "limit": out.limit,
        "offset": out.offset,
        "next": next_link(request, offset=out.offset, limit=out.limit, total=total),
    }
    model = envelope.model_validate({**data, **page})
    return Body(model.model_dump_json().encode("utf-8"), "application/json", None, total)


def _build(maker: Any, app: Any, build: Build, access: Access) -> Body:
    # Read-only: the session is only read from, so there is nothing to commit.
    with maker() as session:
        return build(session, app.state.settings, access)


async def _snapshot(request: Request, cycle: int, organisation_id: int) -> tuple[Any, Any]:
    """This request's snapshot and the sessions to build its body from: the read
    replica's when one is configured, up, and has replayed the data version the caller
    must see (``X-Min-Data-Version``); else the primary's. Snapshot and body always come
    from the same server, so a body is filed under the version it was built from."""
    app = request.app
    reads: ReadRouter = app.state.reads
    wanted = min_data_version(request)
    replica = app.state.replica_snapshots
    if replica is not None and reads.replica_up():
        try:
            snap = await replica.read(cycle, organisation_id)
        except DatabaseUnavailable:
            reads.mark_down("results snapshot failed")
        else:
            if reads.current_enough(snap["replayed"], wanted):
                note_data_version(snap["replayed"], "replica")
                return snap, reads.replica
    return await app.state.snapshots.read(cycle, organisation_id), reads.primary


def _build_named(
    app: Any,
    build: Build,
    access: Access,
    principal: Principal,
    organisation_id: int,
    windows: tuple[Window, ...],
    resource: str,
    now: datetime,
) -> Body:
    """A named view: the names read, the view recorded in the audit trail and the body
    built in one transaction, so a body with names is never sent unrecorded."""
    with app.state.sessionmaker() as session, session.begin():
        year = access.cycle["year"]
        named = workshops.named_view(session, principal, {organisation_id}, year, windows, now)
        if named is not None:
            workshops.record(session, named, principal, resource, now)
        return build(session, app.state.settings, access.with_names(named))


async def _answer(
    request: Request,
    principal: Principal,
    organisation_id: int,
    cycle: int,
    key: tuple[Hashable, ...],
    out: Output,
    envelope: type[BaseModel],
    row: type[BaseModel],
    name: str,
    compute: Rendered,
    now: datetime,
) -> Response:
    """Every results endpoint: decide access afresh (role and scope, then the cycle and
    the data version from this request's snapshot), then serve the rendered body for
    ``key`` (with the format and page asked for) at that version: from the cache, or built
    in the thread pool on a miss.

    Async, so a cache hit runs on the event loop with no thread hand-off and no
    connection checked out: the snapshot is the request's only I/O (see snapshots.py).

    A named view (a results workshop in session for this principal's organisation, which
    the same snapshot says) is built for this request alone and never cached: the cache
    only ever holds bodies with codes, so it cannot hand names to a principal who may not
    see them, nor after the window ends, whatever its key. Named views are few (a
    workshop's members, for its hours) and each writes an audit row anyway, so caching
    them would save little."""
    app = request.app
    service.check_caller(principal, organisation_id)
    snap, maker = await _snapshot(request, cycle, organisation_id)
    access = service.check_access(app.state.settings, principal, organisation_id, cycle, snap)

    def build(session: Session, settings: Settings, access: Access) -> Body:
        return _render(request, out, envelope, row, compute(session, settings, access), name)

    windows = snap["windows"]
    cache: ResultCache = app.state.results_cache
    full_key = (*key, out.format, out.limit, out.offset, out.paged, access.is_admin)
    body: Body | None
    if workshops.open_windows(principal, {organisation_id}, cycle, windows, now):
        resource = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        body = await run_in_threadpool(
            _build_named, app, build, access, principal, organisation_id, windows, resource, now
        )
    elif (body := cache.get(full_key, access.version)) is None:
        body = await run_in_threadpool(_build, maker, app, build, access)
        cache.put(full_key, access.version, body)
    headers = None
    if body.filename:
        headers = {
            "Content-Disposition": f'attachment; filename="{body.filename}"',
            **csv_download_headers(request, out, body.total or 0),
        }
    # The cache holds the body without a BOM; ``bom=1`` is added as it goes out. The
    # ETag is of the bytes sent (so a cached body and a rebuilt one agree).
    return body_response(
        request,
        with_bom(body.content, out.bom and out.format == "csv"),
        body.media_type,
        headers,
    )


# ------------------------------------------------------------------ comparison
# Key: (endpoint, organisation, cycle, peer group[, metric]), then the format and page;
# the response models are declared for the OpenAPI document.


@router.get(
    "/comparison",
    response_model=Comparison,
    responses=table_responses(Comparison),
    summary="My organisation against a peer group, every metric",
    description=_PAGING,
)
async def comparison(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    group: Group,
    out: OutputQuery,
    now: Now,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("comparison", organisation_id, cycle, group.key),
        out,
        Comparison,
        ComparisonRow,
        f"comparison-{cycle}",
        lambda session, settings, access: service.comparison(
            session, settings, access, organisation_id, group
        ),
        now,
    )


# ------------------------------------------------------------------ distribution


@router.get(
    "/distribution",
    response_model=Distribution,
    responses=table_responses(Distribution),
    summary="One metric: every peer's anonymous code and value, in value order",
    description=_PAGING,
)
async def distribution(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    out: OutputQuery,
    now: Now,
) -> Response:
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("distribution", organisation_id, cycle, group.key, metric),
        out,
        Distribution,
        DistributionRow,
        f"distribution-{cycle}-{metric}",
        lambda session, settings, access: service.distribution(
            session, settings, access, organisation_id, metric, group
        ),
        now,
    )


# ------------------------------------------------------------------ trends


@router.get(
    "/trends",
    response_model=Trends,
    responses=table_responses(Trends),
    summary="One metric across cycles: the benchmark and my value, definition changes flagged",
    description=_PAGING,
)
async def trends(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    out: OutputQuery,
    now: Now,
) -> Response:
    service.check_trends_group(group)
    return await _answer(
        request,
        principal,
        organisation_id,
        cycle,
        ("trends", organisation_id, cycle, group.key, metric),
        out,
        Trends,
        TrendRow,
        f"trends-{cycle}-{metric}",
        lambda session, settings, access: service.trends(
            session, settings, access, organisation_id, metric, group
        ),
        now,
    )


# ------------------------------------------------------------------ pictures


async def _picture(
    request: Request,
    principal: Principal,
    organisation_id: int,
    cycle: int,
    fmt: ChartFormat,
    draw: Callable[[Session, Settings, Access], str],
) -> Response:
    """A chart under the results' access rules (decided afresh, as for the tables; codes
    only, never names), drawn in the thread pool, with its ETag."""
    app = request.app
    service.check_caller(principal, organisation_id)
    snap = await app.state.snapshots.read(cycle, organisation_id)
    access = service.check_access(app.state.settings, principal, organisation_id, cycle, snap)

    def build() -> bytes:
        with app.state.sessionmaker() as session:
            return chart_bytes(draw(session, app.state.settings, access), fmt)

    return chart_response(request, await run_in_threadpool(build), fmt)


@router.get(
    "/charts/distribution",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="One metric's peer distribution as a box plot or ranked bars (SVG or PNG)",
    description="The figures of `/distribution`, drawn: `kind=box` (minimum, quartiles, "
    "median, your value) or `kind=ranked` (every peer by code, in value order). A "
    "suppressed group draws nothing and says why.",
)
async def distribution_chart(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    kind: Annotated[pictures.Kind, Query(description="box or ranked")] = "box",
    format: ChartFormatQuery = "svg",
) -> Response:
    return await _picture(
        request,
        principal,
        organisation_id,
        cycle,
        format,
        lambda session, settings, access: pictures.distribution(
            session, settings, access, organisation_id, metric, group, kind
        ),
    )


@router.get(
    "/charts/trends",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="One metric across cycles: the peer median and your value (SVG or PNG)",
    description="The figures of `/trends`, drawn as two lines; a definition change is "
    "named in the description.",
)
async def trends_chart(
    request: Request,
    principal: CurrentPrincipal,
    organisation_id: OrgQuery,
    cycle: CycleQuery,
    metric: MetricQuery,
    group: Group,
    format: ChartFormatQuery = "svg",
) -> Response:
    service.check_trends_group(group)
    return await _picture(
        request,
        principal,
        organisation_id,
        cycle,
        format,
        lambda session, settings, access: pictures.trends(
            session, settings, access, organisation_id, metric, group
        ),
    )


# ------------------------------------------------------------------ admin


@admin_router.get(
    "/peer-groups",
    response_model=PeerGroups,
    summary="Standard peer groups of a cycle with their sizes (admins)",
)
def peer_groups(
    request: Request,
    session: DbSession,
    _principal: AdminPrincipal,
    cycle: CycleQuery,
    params: Annotated[PageParams, Depends(page_params)],
) -> PeerGroups:
    groups = service.peer_groups(session, cycle)
    window = groups[params.offset : params.offset + params.limit]
    page = make_page(request, [PeerGroupInfo(**g) for g in window], len(groups), params)
    return PeerGroups(**page.model_dump())


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
