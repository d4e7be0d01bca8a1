"""Charts as HTTP answers, the same on every chart endpoint: ``?format=svg`` (the default:
the chart module's accessible SVG, title, description and text kept as text) or
``?format=png`` (the same SVG rasterised by cairosvg at twice its size), with an ETag."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response

from shared.conditional import body_response

ChartFormat = Literal["svg", "png"]
ChartFormatQuery = Annotated[ChartFormat, Query(description="svg (the default) or png")]
CHART_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The chart: SVG (title, description and text as text) or PNG",
        "content": {
            "image/svg+xml": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def chart_bytes(svg: str, fmt: ChartFormat) -> bytes:
    if fmt == "svg":
        return svg.encode("utf-8")
    import cairosvg  # cairo: loaded on the first PNG, not with the service

    png: bytes = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=2)
    return png


def chart_response(request: Request, body: bytes, fmt: ChartFormat) -> Response:
    return body_response(request, body, "image/png" if fmt == "png" else "image/svg+xml")
