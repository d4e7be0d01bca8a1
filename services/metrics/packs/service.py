"""Committee packs: who may see and issue them, the live draft, review and issue.

- The draft is computed on every read from the live data (status ``draft``, no version).
- ``create`` freezes the draft for review: a stored version with its figures and checks,
  the sha256 of the source data they came from (``data_version``) and the latest change
  in that data (``data_as_of``). A version already in review with the same data and
  author is the answer to a repeated request; otherwise it is withdrawn and replaced.
- ``issue`` renders the frozen figures as HTML and PDF, stores them and never changes
  them again; the version it replaces becomes ``superseded`` and the new one lists the
  figures that changed. The seconds from the end of the period to the issue are kept.
- Late data (source rows of the period changed after the issue) is checked live, beside
  the frozen checks; it never alters the stored pack.

Access (pack.md): admins see and issue everything; the service's own staff (role
participant, the service among their organisations) freeze and issue; any principal of
the service or of one of its partner organisations reads; nobody else (403, as for any
other organisation's data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.nps import service as nps
from services.metrics.packs import engine, render
from services.metrics.packs import repository as repo
from services.metrics.packs.exceptions import (
    NotInReview,
    PackNotFound,
    ServiceForbidden,
    ServiceNotFound,
    WriteForbidden,
)
from services.metrics.packs.schemas import (
    Check,
    Commentary,
    Organisation,
    Pack,
    PackCheck,
    PackHeader,
    PackStatus,
    SecurityIncident,
)
from services.metrics.sla import engine as sla_engine
from services.metrics.sla import repository as sla_repo
from shared.auth import Principal
from shared.settings import Settings

SEVERE = ("high", "critical")

# ------------------------------------------------------------------------------ access


def require_read(session: Session, principal: Principal, service_id: int) -> None:
    if principal.is_admin or service_id in principal.organisations:
        return
    if service_id in repo.services_of_partners(session, sorted(principal.organisations)):
        return
    raise ServiceForbidden(service_id)


def require_write(session: Session, principal: Principal, service_id: int) -> None:
    require_read(session, principal, service_id)
    if principal.is_admin:
        return
    if "participant" in principal.roles and service_id in principal.organisations:
        return
    raise WriteForbidden(service_id)


def readable_services(session: Session, principal: Principal) -> list[int] | None:
    """The services whose packs the principal may list; None = all (admin)."""
    if principal.is_admin:
        return None
    own = set(principal.organisations)
    return sorted(own | repo.services_of_partners(session, sorted(own)))


# ------------------------------------------------------------------------ the figures


@dataclass(frozen=True)
class Computed:
    pack: Pack
    frozen_checks: list[Check]  # the checks a stored version keeps (no late data)


def _open_at_end(
    session: Session, org_ids: list[int], period: engine.PackPeriod, policies: pl.DataFrame
) -> pl.DataFrame:
    """Tickets open at the period end, evaluated by the SLA engine as of that instant with
    their holds, reopen gaps and histories (a status that pauses the clock, a priority
    change), as the SLA reports evaluate them."""
    end = period.end_instant
    tickets = sla_repo.load_tickets(session, org_ids, open_at=end)
    events = sla_repo.load_events(session, org_ids, open_at=end)
    holds, reopens = sla_repo.load_intervals(session, org_ids)
    clocks = sla_repo.load_clocks(session, org_ids)
    return sla_engine.evaluate_tickets(
        tickets, policies, clocks, as_of=end, holds=holds, reopens=reopens, events=events
    ).sort("organisation_id", "ticket_key")


def _outcomes(session: Session, org_ids: list[int], period: engine.PackPeriod) -> pl.DataFrame:
    """The SLA outcomes a pack can use: logged before the period end and resolved in the
    P0/P1 history or later (or not at all)."""
    return sla_repo.load_outcomes(
        session,
        org_ids,
        logged_before=period.end_instant,
        resolved_from=engine.london_midnight(period.history_start),
    ).sort("organisation_id", "source_system", "reference")


def _settings_text(settings: Settings) -> str:
    return (
        f"amber={settings.pack_amber_margin_points};bands={settings.pack_risk_medium_from},"
        f"{settings.pack_risk_high_from},{settings.pack_risk_very_high_from}"
    )


def compute(
    session: Session,
    settings: Settings,
    service_id: int,
    financial_year: int,
    period_number: int,
    *,
    status: PackStatus = "draft",
    version: int | None = None,
    now: datetime | None = None,
) -> Computed:
    """Every figure, table, chart and check of the pack, from the live data."""
    service = repo.organisation(session, service_id)
    if service is None:
        raise ServiceNotFound(service_id)
    partners = repo.partners(session, service_id)
    orgs = [service, *partners]
    org_ids = [o.id for o in orgs]
    period = engine.PackPeriod(financial_year, period_number)
    previous = repo.previous_issued(session, service_id, financial_year, period_number)
    sources: dict[str, pl.DataFrame | str] = {
        "organisations": "\n".join(f"{o.id},{o.name}" for o in orgs),
        "previous_pack": "" if previous is None else f"{previous['id']}:{previous['version']}",
        "settings": _settings_text(settings),
    }

    # SLA, NPS, security, commentary, KPI
    outcomes = _outcomes(session, org_ids, period)
    policies = sla_repo.load_policies(session, org_ids).sort(
        "organisation_id", "priority", "request_type", "effective_from", nulls_last=True
    )
    open_at_end = _open_at_end(session, org_ids, period, policies)
    targets = engine.sla_targets(policies, org_ids, period.period_end)
    tables = engine.sla_tables(outcomes, open_at_end, targets, period)
    ratings = nps.ratings(session, "feedback", org_ids, period.period_start, period.period_end)
    ratings = ratings.sort("organisation_id", "month", "rating", nulls_last=True)
    nps_rows, nps_whole = engine.nps_rows(ratings, period.months, orgs)
    incidents = repo.security_incidents(session, service_id, period.period_start, period.period_end)
    severe = sum(
        1
        for i in incidents
        if i["severity"] in SEVERE and period.period_start <= i["opened_on"] <= period.period_end
    )
    notes = repo.commentary(session, service_id, financial_year, period_number)
    comments = {n["measure"]: n["body"] for n in notes if n["measure"]}
    kpi_inputs = engine.kpi_inputs(outcomes, period, targets, nps_whole, severe)
    previous_kpi = engine.previous_measures(None if previous is None else {"kpi": previous["kpi"]})
    kpi = engine.kpi_summary(
        kpi_inputs, targets, previous_kpi, comments, settings.pack_amber_margin_points
    )
    sources |= {
        "outcomes": outcomes,
        "open_at_end": open_at_end.select(
            "organisation_id", "ticket_key", "priority", "sla_status", "on_hold"
        ),
        "policies": policies,
        "ratings": ratings,
        "security_incidents": pl.DataFrame(incidents) if incidents else "",
        "commentary": pl.DataFrame(notes) if notes else "",
    }

    # Finance
    checks: list[Check] = []
    report = repo.finance_report(session, service_id, financial_year, period_number)
    outturn = None
    if report is not None:
        lines = repo.finance_lines(session, report["id"])
        printed = repo.finance_printed_totals(session, report["id"])
        labels = repo.finance_group_labels(session, service_id)
        outturn, found = engine.outturn(
            lines, printed, labels, financial_year=financial_year, period=report["period"]
        )
        checks += found
        sources |= {
            "finance_report": f"{report['id']}:{report['period']}",
            "finance_lines": lines,
            "finance_printed": printed,
            "finance_labels": "\n".join(f"{k}={v}" for k, v in labels.items()),
        }

    # Cost tables (organisations beyond the service and its partners get their names)
    metas = repo.cost_tables(session, service_id, financial_year, period_number)
    ids = [m["id"] for m in metas]
    cells = repo.cost_cells(session, ids)
    printed_costs = repo.cost_printed_totals(session, ids)
    extra = sorted(set(cells["organisation_id"].to_list()) - set(org_ids))
    named = repo.organisation_names(session, extra) if extra else {}
    table_orgs = orgs + [Organisation(id=i, name=named.get(i, f"Organisation {i}")) for i in extra]
    cost_tables = []
    for meta in metas:
        table, found = engine.cost_table(
            meta["title"],
            meta["columns"],
            cells.filter(pl.col("table_id") == meta["id"]),
            printed_costs.filter(pl.col("table_id") == meta["id"]),
            table_orgs,
            meta["categories"],
        )
        cost_tables.append(table)
        checks += found
    sources |= {
        # The category order where it was kept (tables from before 0013 have none).
        "cost_tables": "\n".join(
            f"{m['id']}:{m['title']}:{m['columns']}"
            + ("" if m["categories"] is None else f":{m['categories']}")
            for m in metas
        ),
        "cost_cells": cells,
        "cost_printed": printed_costs,
    }

    # Risks
    bands = engine.RiskBands(
        settings.pack_risk_medium_from,
        settings.pack_risk_high_from,
        settings.pack_risk_very_high_from,
    )
    previous_at = None if previous is None else (previous["financial_year"], previous["period"])
    current_risks, previous_risks = repo.risks(
        session, service_id, financial_year, period_number, previous_at
    )
    risk_sections, found = engine.risk_register(current_risks, previous_risks, bands)
    checks += found
    sources |= {"risks": current_risks, "risks_previous": previous_risks}

    header = PackHeader(
        service=service,
        partners=partners,
        financial_year=financial_year,
        financial_year_label=period.fy_label,
        period=period_number,
        period_label=period.label,
        period_start=period.period_start,
        period_end=period.period_end,
        status=status,
        version=version,
        data_version=engine.data_version(sources),
        data_as_of=repo.data_as_of(session, service_id, org_ids, period),
        generated_at=(now or datetime.now(UTC)).replace(microsecond=0),
    )
    pack = Pack(
        header=header,
        sentences=engine.sentences(
            period,
            kpi,
            targets,
            kpi_inputs.sla_window,
            kpi_inputs.nps_responses,
            outturn,
            cost_tables,
            risk_sections,
            checks,
        ),
        kpi=kpi,
        sla=tables,
        nps=nps_rows,
        security_incidents=[SecurityIncident(**i) for i in incidents],
        outturn=outturn,
        cost_tables=cost_tables,
        risks=risk_sections,
        commentary=[Commentary(**n) for n in notes],
        checks=checks,
        charts=engine.charts(tables, nps_rows, orgs, outturn),
    )
    return Computed(pack=pack, frozen_checks=checks)


def _late_checks(session: Session, pack: Pack, issued: dict[str, Any]) -> list[Check]:
    """Source data of the pack's period changed after the issued version's figures were
    taken (when it was frozen for review)."""
    h = pack.header
    org_ids = [h.service.id, *(p.id for p in h.partners)]
    period = engine.PackPeriod(h.financial_year, h.period)
    since = issued["created_at"]
    found = repo.late_rows(session, h.service.id, org_ids, period, since)
    return engine.late_data(found, since, issued["version"])


def draft(
    session: Session,
    settings: Settings,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
) -> Pack:
    """The live draft, with late-data checks against the period's issued version."""
    require_read(session, principal, service_id)
    pack = compute(session, settings, service_id, financial_year, period).pack
    issued = repo.issued_pack(session, service_id, financial_year, period)
    if issued is not None:
        late = _late_checks(session, pack, issued)
        pack = pack.model_copy(update={"checks": [*pack.checks, *late]})
    return pack


# ----------------------------------------------------------------- review and issue


def _figures(pack: Pack) -> dict[str, Any]:
    return pack.model_dump(mode="json")


def create(
    session: Session,
    settings: Settings,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
) -> tuple[dict[str, Any], bool]:
    """Freeze the draft for review: (the stored version's summary, whether it is the
    answer to an earlier identical request)."""
    require_write(session, principal, service_id)
    version = repo.next_version(session, service_id, financial_year, period)
    computed = compute(
        session,
        settings,
        service_id,
        financial_year,
        period,
        status="in_review",
        version=version,
    )
    pack = computed.pack
    waiting = repo.in_review(session, service_id, financial_year, period)
    if waiting is not None:
        if (
            waiting["data_version"] == pack.header.data_version
            and waiting["created_by"] == principal.subject
        ):
            return waiting, True
        repo.set_status(session, waiting["id"], "withdrawn")
    issued = repo.issued_pack(session, service_id, financial_year, period)
    figures = _figures(pack)
    changes = [] if issued is None else engine.changes(issued["figures"], figures)
    pack_id = repo.insert_pack(
        session,
        {
            "service_id": service_id,
            "financial_year": financial_year,
            "period": period,
            "version": version,
            "status": "in_review",
            "period_end": pack.header.period_end,
            "data_version": pack.header.data_version,
            "data_as_of": pack.header.data_as_of,
            "figures": figures,
            "checks": [c.model_dump(mode="json") for c in computed.frozen_checks],
            "changes": changes,
            "created_by": principal.subject,
        },
    )
    found = repo.summary(session, pack_id)
    assert found is not None
    return found, False


def issue(
    session: Session,
    settings: Settings,
    principal: Principal,
    pack_id: int,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Issue a version in review: render and store its HTML and PDF, supersede the
    version issued before it and record what changed and how long after the period."""
    row = _stored(session, pack_id, "figures", lock=True)
    require_write(session, principal, row["service_id"])
    if row["status"] != "in_review":
        raise NotInReview(pack_id, row["status"])

    at = now or datetime.now(UTC)
    period = engine.PackPeriod(row["financial_year"], row["period"])
    seconds = engine.seconds_to_issue(period, at)
    frozen = Pack.model_validate(row["figures"])
    header = frozen.header.model_copy(
        update={"status": "issued", "issued_at": at, "seconds_to_issue": seconds}
    )
    pack = frozen.model_copy(update={"header": header})
    figures = _figures(pack)
    html = render.render_html(pack)
    pdf = render.pdf_from_source(html)  # the PDF is this HTML typeset: render it once
    current = repo.issued_pack(session, row["service_id"], row["financial_year"], row["period"])
    changes = [] if current is None else engine.changes(current["figures"], figures)
    if current is not None:
        repo.set_status(session, current["id"], "superseded")
    repo.update_pack(
        session,
        pack_id,
        {
            "status": "issued",
            "figures": figures,
            "changes": changes,
            "html": html,
            "pdf": pdf,
            "reviewed_by": principal.subject,
            "reviewed_at": at,
            "issued_by": principal.subject,
            "issued_at": at,
            "seconds_to_issue": seconds,
        },
    )
    found = repo.summary(session, pack_id)
    assert found is not None
    return found


# ---------------------------------------------------------------------------- reads


def _stored(session: Session, pack_id: int, *columns: str, lock: bool = False) -> dict[str, Any]:
    if repo.summary(session, pack_id) is None:
        raise PackNotFound(pack_id)
    return repo.stored(session, pack_id, *columns, lock=lock)


def summary(session: Session, principal: Principal, pack_id: int) -> dict[str, Any]:
    found = repo.summary(session, pack_id)
    if found is None:
        raise PackNotFound(pack_id)
    require_read(session, principal, found["service_id"])
    return found


def stored(session: Session, principal: Principal, pack_id: int, *columns: str) -> dict[str, Any]:
    """A stored version's summary and columns (figures, checks, changes, html, pdf)."""
    summary(session, principal, pack_id)
    return repo.stored(session, pack_id, *columns)


def stored_pack(row: dict[str, Any]) -> Pack:
    return Pack.model_validate(row["figures"])


def successor(session: Session, row: dict[str, Any]) -> int | None:
    """The version issued in place of a superseded one."""
    if row["status"] != "superseded":
        return None
    current = repo.issued_pack(session, row["service_id"], row["financial_year"], row["period"])
    return None if current is None else int(current["id"])


def checks(session: Session, principal: Principal, pack_id: int) -> list[PackCheck]:
    """The version's frozen checks, then late data checked now (issued versions)."""
    row = stored(session, principal, pack_id, "figures", "checks")
    out = [PackCheck(origin="frozen", **c) for c in row["checks"]]
    if row["issued_at"] is not None and row["status"] in ("issued", "superseded"):
        pack = stored_pack(row)
        late = _late_checks(session, pack, row)
        out += [PackCheck(origin="live", **c.model_dump()) for c in late]
    return out


def draft_checks(pack: Pack) -> list[PackCheck]:
    return [PackCheck(origin="live", **c.model_dump()) for c in pack.checks]


def listing(
    session: Session,
    principal: Principal,
    service_id: int | None,
    financial_year: int | None,
    period: int | None,
    status: str | None,
) -> list[dict[str, Any]]:
    if service_id is not None:
        require_read(session, principal, service_id)
        services: list[int] | None = [service_id]
    else:
        services = readable_services(session, principal)
    return repo.list_packs(session, services, financial_year, period, status)
