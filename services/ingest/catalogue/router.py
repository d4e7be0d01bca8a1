from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from services.ingest.catalogue import service
from services.ingest.catalogue.schemas import Catalogue, CatalogueSummary
from shared.auth import CurrentPrincipal
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])


@router.get(
    "", response_model=Page[CatalogueSummary], summary="Cycles that have a catalogue, oldest first"
)
def list_catalogues(
    request: Request,
    _principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[CatalogueSummary]:
    return page_of(request, [CatalogueSummary(**c) for c in service.listing()], params)


@router.get(
    "/{year}",
    response_model=Catalogue,
    summary="One cycle's catalogue: modules, questions, metrics and rules",
)
def get_catalogue(
    year: Annotated[int, Path(ge=2000, le=2100, description="Collection year")],
    _principal: CurrentPrincipal,
) -> Catalogue:
    return Catalogue(**service.get(year))
