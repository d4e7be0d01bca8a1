"""The survey service: campaigns, invitations, the respondent's form, responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from shared.app import create_app

ROUTERS: list[APIRouter] = []


def build(**kwargs: Any) -> FastAPI:
    return create_app(
        "survey",
        ROUTERS,
        description="Organisation-wide surveys, anonymous by construction.",
        **kwargs,
    )


app = build()
