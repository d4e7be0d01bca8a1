"""One envelope for every list: ``{items, total, limit, offset, next}``.

``next`` is a relative reference (path and query, e.g.
``/api/v1/organisations?limit=2&offset=2``), the next page's address on whatever origin the
client used; ``null`` on the last page. It is never built from the request's ``Host``.
A list whose rows the database pages gives ``make_page`` one page and the total; a list
that is small by nature (an organisation's calendars, the ready ticket profiles) is read
whole and cut with ``page_of``, so it has the same envelope and parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

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
    total: int = Field(description="Items in the whole list")
    limit: int
    offset: int
    next: str | None = Field(
        default=None,
        description="The next page as a path and query (relative to this service); "
        "null on the last page",
        examples=["/api/v1/organisations?limit=50&offset=50"],
    )


def next_link(request: Request, params: PageParams, shown: int, total: int) -> str | None:
    """The path and query of the page after this one, or None when this is the last."""
    if params.offset + shown >= total:
        return None
    url = request.url.include_query_params(offset=params.offset + params.limit)
    return f"{url.path}?{url.query}"


def make_page(request: Request, items: list[T], total: int, params: PageParams) -> Page[T]:
    return Page[T](
        items=items,
        total=total,
        limit=params.limit,
        offset=params.offset,
        next=next_link(request, params, len(items), total),
    )


def page_of(request: Request, everything: Sequence[T], params: PageParams) -> Page[T]:
    """The page ``params`` asks for of a list read whole (one that is small by nature)."""
    items = list(everything[params.offset : params.offset + params.limit])
    return make_page(request, items, len(everything), params)
