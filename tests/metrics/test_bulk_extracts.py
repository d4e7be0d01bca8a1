"""Bulk extracts on the JSON API's tables (the One-shape format switch): ``format=parquet``
beside json and csv, the same rows and columns; ETag with If-None-Match (304) and gzip on
results and reports, whatever the format."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest

from tests.metrics.test_odata import basic, feed  # noqa: F401  (the data set fixture)

pytestmark = pytest.mark.xdist_group("odata")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/results/comparison", {"cycle": 2020}),
        ("/api/v1/sla/monthly", {}),
        ("/api/v1/nps", {"source": "tickets"}),
        ("/api/v1/survey-results/campaigns/1/breakdowns", {}),
    ],
)
def test_parquet_has_the_json_rows_and_every_answer_an_etag(feed, path, params):  # noqa: F811
    api = feed["api"]
    me = feed["me"] if "results" in path or "survey" in path else feed["ticket_orgs"][0]
    headers = api.auth("participant", [me])
    if "results" in path:
        params = {**params, "organisation_id": me}
    as_json = api.metrics.get(path, params={**params, "limit": 10000}, headers=headers)
    assert as_json.status_code == 200, as_json.text
    items = as_json.json()["items"]
    assert items
    as_parquet = api.metrics.get(path, params={**params, "format": "parquet"}, headers=headers)
    assert as_parquet.status_code == 200, as_parquet.text
    assert as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert as_parquet.headers["x-total-count"] == str(len(items))
    assert ".parquet" in as_parquet.headers["content-disposition"]
    frame = pl.read_parquet(io.BytesIO(as_parquet.content))
    assert frame.height == len(items)
    for column in items[0]:
        got = frame[column].to_list()
        want = [r[column] for r in items]
        if frame[column].dtype == pl.Date:
            got = [None if d is None else d.isoformat() for d in got]
        if isinstance(frame[column].dtype, pl.Decimal):  # exact in Parquet, a number in JSON
            got = [None if d is None else float(d) for d in got]
        assert got == want, column
    as_csv = api.metrics.get(path, params={**params, "format": "csv"}, headers=headers)
    assert len(list(csv.DictReader(io.StringIO(as_csv.text)))) == len(items)
    # every format: an ETag, 304 when the client has it, gzip when asked
    for fmt in ("json", "csv", "parquet"):
        first = api.metrics.get(path, params={**params, "format": fmt}, headers=headers)
        etag = first.headers["etag"]
        again = api.metrics.get(
            path, params={**params, "format": fmt}, headers={**headers, "If-None-Match": etag}
        )
        assert again.status_code == 304, (fmt, again.text)
        assert again.content == b"" and again.headers["etag"] == etag
        other = api.metrics.get(
            path, params={**params, "format": fmt}, headers={**headers, "If-None-Match": '"x"'}
        )
        assert other.status_code == 200
    big = api.metrics.get(
        path, params={**params, "format": "csv"}, headers={**headers, "Accept-Encoding": "gzip"}
    )
    if len(as_csv.content) >= 1024:
        assert big.headers["content-encoding"] == "gzip"
    assert big.text == as_csv.text


def test_an_etag_changes_when_the_figures_do(feed):  # noqa: F811
    api, me = feed["api"], feed["me"]
    headers = basic(feed["key"])
    params = {"organisation_id": me, "cycle": 2020}
    before = api.metrics.get("/api/v1/results/comparison", params=params, headers=headers)
    other = api.metrics.get(
        "/api/v1/results/comparison", params={**params, "peer_group": "type:L"}, headers=headers
    )
    assert before.headers["etag"] != other.headers["etag"]
    odata = api.metrics.get(
        "/odata/v4/Comparisons",
        params={"$filter": "peer_group_key eq 'all'"},
        headers={**headers, "If-None-Match": before.headers["etag"]},
    )
    assert odata.status_code == 200  # another body, another tag
