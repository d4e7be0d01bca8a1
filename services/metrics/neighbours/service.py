"""Peers by statistical distance: an organisation's nearest neighbours in a cycle, and
saving them as a custom peer group.

Access is the results' (``benchmark.service.check_caller`` and ``check_access``): admins,
or the organisation's own participants and read-only keys while its results access runs.
A suggestion names peers only by their anonymous code and gives no peer's raw answer: the
distance and each variable's share of it are all it shows.

A saved group's members are the organisation and its neighbours at the time of saving;
results accept it as ``peer_group=saved:<id>`` for that organisation and cycle, with the
same disclosure control and codes as any group.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.benchmark import repository as bench_repo
from services.metrics.benchmark import service as bench
from services.metrics.benchmark.service import Access
from services.metrics.neighbours import engine
from services.metrics.neighbours import repository as repo
from shared.auth import Principal
from shared.catalogue import Catalogue
from shared.errors import NotFound, Unprocessable
from shared.settings import Settings

METHOD = "nearest_neighbours"


def access_for(
    session: Session, settings: Settings, principal: Principal, organisation_id: int, year: int
) -> Access:
    bench.check_caller(principal, organisation_id)
    snap = bench_repo.snapshot_now(session, year, organisation_id)
    return bench.check_access(settings, principal, organisation_id, year, snap)


def frame_for(session: Session, catalogue: Catalogue, year: int) -> pl.DataFrame:
    """One row per organisation of the cycle: id, code and each variable's raw value."""
    variables = list(catalogue.neighbours.values())
    members = repo.members(session, year)
    qkeys = sorted({v.name for v in variables if v.source == "question"})
    answers = repo.accepted_numbers(session, year, qkeys)
    wide = members
    for key in qkeys:
        column = answers.filter(pl.col("question_key") == key).select(
            "organisation_id", pl.col("value").alias(f"q_{key}")
        )
        wide = wide.join(column, on="organisation_id", how="left")
    codes = bench_repo.codes(session, {(year, i) for i in wide.get_column("organisation_id")})
    code_frame = pl.DataFrame(
        [(i, code) for (_y, i), code in codes.items()],
        schema={"organisation_id": pl.Int64, "code": pl.String},
        orient="row",
    )
    return wide.join(code_frame, on="organisation_id", how="left").select(
        "organisation_id",
        pl.col("code").fill_null("no code"),
        *[
            (pl.col(f"q_{v.name}") if v.source == "question" else pl.col(v.name)).alias(v.key)
            for v in variables
        ],
    )


def suggest(
    session: Session, access: Access, organisation_id: int, count: int
) -> tuple[engine.Result, Catalogue, dict[int, str]]:
    year = access.cycle["year"]
    catalogue = bench.catalogue_of(year)
    frame = frame_for(session, catalogue, year)
    try:
        result = engine.nearest(frame, catalogue.neighbours, organisation_id, count)
    except engine.SubjectMissing as exc:
        names = ", ".join(exc.variables)
        raise Unprocessable(
            f"Organisation {organisation_id} has no accepted value in cycle {year} for: "
            f"{names}; its nearest neighbours need one for every variable.",
            code="neighbour_variables_missing",
            errors=[
                {"field": f"variables.{k}", "message": "no accepted value"} for k in exc.variables
            ],
        ) from None
    codes: dict[int, str] = dict(frame.select("organisation_id", "code").iter_rows())
    return result, catalogue, codes


def variables_of(catalogue: Catalogue, result: engine.Result) -> list[dict[str, Any]]:
    used = set(result.used)
    return [{**v.to_dict(), "used": v.key in used} for v in catalogue.neighbours.values()]


def notes_of(catalogue: Catalogue, result: engine.Result, year: int) -> list[str]:
    """Why a where-loaded variable was left out of this suggestion."""
    out = []
    for key, (lacking, compared) in result.left_out.items():
        v = catalogue.neighbours[key]
        out.append(
            f"{v.label} ({key}) is left out of this suggestion: it is not loaded for "
            f"{lacking} of the {compared} organisations compared in cycle {year}, and "
            "every organisation is compared on the same variables. Load it for every "
            "organisation (PATCH /api/v1/organisations/{id} on the ingest service) to use it."
        )
    return out


def nearest(session: Session, access: Access, organisation_id: int, count: int) -> dict[str, Any]:
    result, catalogue, codes = suggest(session, access, organisation_id, count)
    year = access.cycle["year"]
    keys = result.used
    rows = [
        {
            "organisation_code": codes.get(organisation_id),
            "cycle_year": year,
            "position": r["position"],
            "peer_code": r["code"],
            "distance": r["distance"],
            "contributions": {k: r[engine.contribution_column(k)] for k in keys},
        }
        for r in result.neighbours.iter_rows(named=True)
    ]
    return {
        "organisation_id": organisation_id,
        "organisation_code": codes.get(organisation_id),
        "cycle_year": year,
        "count": count,
        "candidates": result.candidates,
        "excluded": result.excluded,
        "variables": variables_of(catalogue, result),
        "notes": notes_of(catalogue, result, year),
        "method": "z-scores over the cycle's organisations; distance √Σ w(z − z′)², rebased "
        "so the farthest is 1; contribution = distance × w(z − z′)² / Σ w(z − z′)²",
        "rows": rows,
    }


def save(
    session: Session,
    access: Access,
    principal: Principal,
    organisation_id: int,
    name: str,
    count: int,
) -> dict[str, Any]:
    result, catalogue, _codes = suggest(session, access, organisation_id, count)
    members = list(engine.members_of(result, organisation_id))
    distances = {r["code"]: r["distance"] for r in result.neighbours.iter_rows(named=True)}
    new_id = repo.insert_group(
        session,
        {
            "organisation_id": organisation_id,
            "cycle_year": access.cycle["year"],
            "name": name.strip(),
            "method": METHOD,
            "members": members,
            "detail": {
                "count": count,
                "variables": variables_of(catalogue, result),
                "notes": notes_of(catalogue, result, access.cycle["year"]),
                "distances": distances,
            },
            "created_by": principal.subject,
        },
    )
    return view(session, repo.get_group(session, new_id))


def view(session: Session, row: dict[str, Any] | None) -> dict[str, Any]:
    assert row is not None
    year = row["cycle_year"]
    codes = bench_repo.codes(session, {(year, i) for i in row["members"]})
    return {
        **{k: row[k] for k in ("id", "organisation_id", "cycle_year", "name", "method")},
        "peer_group_key": f"saved:{row['id']}",
        "member_codes": [codes.get((year, i), "no code") for i in row["members"]],
        "distances": row["detail"].get("distances", {}),
        "created_by": row["created_by"],
        "created_at": row["created_at"],
    }


def get(session: Session, principal: Principal, group_id: int) -> dict[str, Any]:
    row = repo.get_group(session, group_id)
    if row is None or not principal.can_see_organisation(row["organisation_id"]):
        raise NotFound(f"There is no saved peer group {group_id}.", code="peer_group_not_found")
    return view(session, row)


def listing(
    session: Session, principal: Principal, organisation_id: int | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    if organisation_id is not None:
        principal.require_organisation(organisation_id)
        scope: list[int] | None = [organisation_id]
    else:
        scope = None if principal.is_admin else sorted(principal.organisations)
    rows, total = repo.list_groups(session, scope, limit, offset)
    return [view(session, r) for r in rows], total
