"""A CSV download is the whole result, or says that it is a page: the SLA data-quality
report of 15,000 tickets (it used to stop at 500 rows without saying so)."""

from __future__ import annotations

import io
import re

import polars as pl
from sqlalchemy import text

ROWS = 15_000
URL = "/api/v1/sla/data-quality"


def _fill(owner_engine, org: int) -> None:
    """15,000 data-quality outcomes written straight into the metrics table (what the SLA
    recompute would store for tickets without a priority)."""
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sla_outcomes (organisation_id, source_system, reference, type, "
                "logged_at, is_open, on_hold, sla_status, data_quality_reason) "
                "SELECT :o, 'sn', 'DQ' || lpad(i::text, 5, '0'), 'incident', "
                "timestamptz '2021-03-01 09:00+00' + i * interval '1 minute', false, false, "
                "'data_quality', 'no priority' FROM generate_series(1, :n) AS i"
            ),
            {"o": org, "n": ROWS},
        )


def _frame(content: bytes) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(content), schema_overrides={"reference": pl.String})


def test_the_csv_is_the_whole_report_streamed(api, owner_engine):
    _fill(owner_engine, 3)
    got = api.metrics.get(
        URL, params={"organisation_id": 3, "format": "csv"}, headers=api.auth("admin")
    )
    assert got.status_code == 200, got.text
    assert got.headers["x-total-count"] == str(ROWS)
    assert "link" not in got.headers
    frame = _frame(got.content)
    assert frame.height == ROWS
    assert frame["reference"].to_list() == [f"DQ{i:05d}" for i in range(1, ROWS + 1)]
    # the JSON form still pages (500 by default) and says the total
    body = api.metrics.get(URL, params={"organisation_id": 3}, headers=api.auth("admin")).json()
    assert (len(body["items"]), body["total"]) == (500, ROWS)


def test_a_csv_page_says_so_with_link_and_total(api, owner_engine):
    _fill(owner_engine, 3)
    url = f"{URL}?organisation_id=3&format=csv&limit=4000"
    frames = []
    for _ in range(10):  # 4 pages expected; bounded
        got = api.metrics.get(url, headers={**api.auth("admin"), "Host": "evil.example"})
        assert got.status_code == 200, got.text
        assert got.headers["x-total-count"] == str(ROWS)
        frames.append(_frame(got.content))
        link = got.headers.get("link")
        if link is None:
            break
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert match, link
        url = match.group(1)
        # relative: the client's Host header is never reflected
        assert url.startswith(f"{URL}?") and "evil" not in url, url
    assert [f.height for f in frames] == [4000, 4000, 4000, 3000]
    whole = pl.concat(frames)
    assert whole["reference"].n_unique() == ROWS
