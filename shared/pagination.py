"""Offset pagination with a link to the next page."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page (1-500)")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next: str | None = None


def make_page(request: Request, items: list[T], total: int, params: PageParams) -> Page[T]:
    nxt = None
    if params.offset + len(items) < total:
        nxt = str(request.url.include_query_params(offset=params.offset + params.limit))
    return Page[T](items=items, total=total, limit=params.limit, offset=params.offset, next=nxt)
