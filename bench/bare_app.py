"""Baseline for bench_survey.py: a bare FastAPI endpoint that inserts one row."""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from shared.db.engine import make_engine

engine = make_engine(os.environ["DATABASE_URL"], pool_size=int(os.environ.get("POOL", "10")))
app = FastAPI()


@app.post("/insert", status_code=201)
def insert(body: dict[str, Any]) -> dict[str, str]:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO bench_bare (id, answers) VALUES (:id, CAST(:a AS jsonb))"),
            {"id": uuid.uuid4(), "a": __import__("json").dumps(body)},
        )
    return {"status": "received"}
