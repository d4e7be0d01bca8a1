from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from services.survey.campaigns.router import Staff
from services.survey.headcounts import service
from services.survey.headcounts.schemas import Headcount, HeadcountUpload
from shared.deps import DbSession, IdPath

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` written in place: a request body given
    through ``openapi_extra`` is not among the spec's components, so no reference in it
    would resolve (generated clients skip such an endpoint)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


HEADCOUNT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "JSON (cells or margins), or a CSV file: a header row naming the "
        "attribute columns and headcount (one row per cell of the cross-classification), or "
        "attribute, value, headcount (margins only).",
        "content": {
            "application/json": {"schema": _inlined(HeadcountUpload.model_json_schema())},
            "text/csv": {
                "schema": {"type": "string"},
                "example": "role,location,headcount\nSenior manager,Main office,40\n"
                "Senior manager,Home,12\n",
            },
        },
    }
}


@router.put(
    "/{campaign_id}/headcount",
    response_model=Headcount,
    summary="Upload the organisation's headcount by breakdown attribute (replaces any earlier)",
    description="Cells (e.g. role × location) give cell weighting; margins only give raking. "
    "Refused as a whole (422, each problem named) for an attribute the campaign does not ask "
    "about, a value that is not one of its options, a negative headcount, or a headcount "
    "below the responses received (in all, or in any cell or value).",
    max_body_size=service.MAX_UPLOAD_BYTES,
    openapi_extra=HEADCOUNT_BODY,
)
async def put_headcount(
    request: Request, campaign_id: IdPath, session: DbSession, principal: Staff
) -> Headcount:
    data = await request.body()
    found = await run_in_threadpool(
        service.upload,
        session,
        principal,
        campaign_id,
        data,
        request.headers.get("content-type", ""),
    )
    return Headcount(**found)


@router.get(
    "/{campaign_id}/headcount", response_model=Headcount, summary="The campaign's headcount"
)
def get_headcount(campaign_id: IdPath, session: DbSession, principal: Staff) -> Headcount:
    return Headcount(**service.get(session, principal, campaign_id))


@router.delete(
    "/{campaign_id}/headcount",
    status_code=204,
    summary="Remove the headcount (results are then unweighted only)",
)
def delete_headcount(campaign_id: IdPath, session: DbSession, principal: Staff) -> Response:
    service.delete(session, principal, campaign_id)
    return Response(status_code=204)
