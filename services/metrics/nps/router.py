from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.metrics.explain.links import nps_link
from services.metrics.nps import service
from services.metrics.nps.schemas import NpsReport, Source
from services.metrics.sla.router import Reader, check_months
from services.metrics.sla.service import visible_organisations
from shared.deps import MAX_INT32, DbSession
from shared.errors import Forbidden
from shared.tabular import OutputQuery, table_response, table_responses
from shared.types import IsoDate

router = APIRouter(prefix="/api/v1/nps", tags=["nps"])

SURVEY_ROLES = ("admin", "participant", "reader")


@router.get(
    "",
    response_model=NpsReport,
    responses=table_responses(NpsReport),
    summary="Net Promoter Score by organisation and month, from tickets, feedback or surveys",
    description="""One row per organisation and month, then one per organisation for the
whole period asked for (`month` null). Every source is counted the same way: ratings 0-10;
promoters 9-10, passives 7-8, detractors 0-6; `nps` = % promoters - % detractors, one
decimal, half up; a month with no ratings has `responses` 0 and `nps` null (no score, not 0).

`source`:
- `tickets`: the `nps_rating` column of ticket exports; month of resolution (logged month
  while unresolved), Europe/London.
- `feedback`: ticket-export ratings and ratings sent through `POST /api/v1/feedback`
  combined (a rating sent for a ticket replaces that ticket's export rating); endpoint
  ratings count in the month received.
- `survey`: the surveys' recommendation question (`nps`); month of the response. Needs
  the admin, participant or reader role.

JSON: a page of `limit` rows (500 unless asked) in `items`; CSV (`format=csv`): every row,
or the page asked for with `limit`/`offset` (then `X-Total-Count` and a `Link` rel=next).
JSON only: `explanations`, beside the page's rows and in their order, each row's
explanation (`GET /api/v1/explain/nps`).""",
)
def nps(
    request: Request,
    session: DbSession,
    principal: Reader,
    out: OutputQuery,
    source: Annotated[Source, Query(description="tickets, feedback or survey")],
    organisation_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_INT32)]] | None,
        Query(description="Organisations (repeat the parameter); default: all you may see"),
    ] = None,
    month_from: Annotated[IsoDate | None, Query(description="First month (any day in it)")] = None,
    month_to: Annotated[IsoDate | None, Query(description="Last month (any day in it)")] = None,
) -> Response:
    check_months(month_from, month_to)
    if source == "survey" and not principal.has_any_role(SURVEY_ROLES):
        raise Forbidden(
            "Survey NPS needs one of the roles: admin, participant, reader.",
            code="role_forbidden",
        )
    orgs = visible_organisations(principal, organisation_id)
    rows = service.nps(session, source, orgs, month_from, month_to).to_dicts()
    # Beside the rows (whose columns the CSV keeps): each row's explanation, in their order.
    explanations = [
        {
            "organisation_id": r["organisation_id"],
            "month": r["month"],
            "explain": nps_link(source, r["organisation_id"], r["month"], month_from, month_to),
        }
        for r in out.window(rows)
    ]
    return table_response(
        request,
        out,
        NpsReport,
        service.COLUMNS,
        rows,
        f"nps-{source}",
        source=source,
        columns=service.COLUMNS,
        notes={"month_basis": service.MONTH_BASIS[source]},
        explanations=explanations,
    )
