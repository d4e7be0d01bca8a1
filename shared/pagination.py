"""Offset pagination: the one envelope of every list and report.

``{"items": [...], "total": n, "limit": l, "offset": o, "next": "/path?...&offset=…"}``;
``next`` is a relative reference (path and query, never built from ``Host``), null on the
last page. Reports add their own metadata beside these fields (``units``, ``notes``…).
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from pydantic import BaseModel, Field

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
    total: int = Field(description="Items in the whole result")
    limit: int = Field(description="Items per page asked for")
    offset: int = Field(description="Items skipped before this page")
    next: str | None = Field(
        default=None, description="Path and query of the next page; null on the last page"
    )


def next_link(request: Request, *, offset: int, limit: int, total: int) -> str | None:
    """The next page's path and query (relative: the client's ``Host`` is never echoed),
    or None when this page reaches ``total``."""
    if offset + limit >= total:
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    query.append(("offset", str(offset + limit)))
    return f"{request.url.path}?{urlencode(query)}"


def make_page(request: Request, items: list[T], total: int, params: PageParams) -> Page[T]:
    nxt = next_link(request, offset=params.offset, limit=params.limit, total=total)
    return Page[T](items=items, total=total, limit=params.limit, offset=params.offset, next=nxt)
