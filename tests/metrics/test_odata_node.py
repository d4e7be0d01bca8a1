"""The feed read by OData clients from another ecosystem, over real HTTP: the OASIS OData
TC's CSDL XML-to-JSON converter (npm ``odata-csdl``, strict mode) reads ``$metadata``, and
``@odata/client`` (npm, OData v4 mode, Basic auth with an API key) reads an entity set
with a ``$filter``, following ``@odata.nextLink`` to the end (tests/metrics/odata_node/).

Skipped only when node is not installed; ``.ci/run`` installs the npm packages
(``npm ci`` in tests/metrics/odata_node) when node is there."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from services.metrics.main import build
from services.metrics.odata.schemas import ENTITY_SETS
from shared.testing.browser import free_port, serve
from tests.metrics.test_odata import basic, crawl, feed  # noqa: F401  (the data set fixture)

pytestmark = pytest.mark.xdist_group("odata")

CLIENT = Path(__file__).parent / "odata_node"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the npm OData clients cannot run")
    if not (CLIENT / "node_modules" / "@odata" / "client").is_dir():
        npm = shutil.which("npm")
        assert npm, "node without npm: install npm to fetch the OData clients"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True)
    return node


def test_npm_odata_clients_read_metadata_follow_next_links_and_filter(feed, settings, database_url):  # noqa: F811
    node = _node()
    port = free_port()
    public = settings.model_copy(update={"metrics_public_url": f"http://127.0.0.1:{port}"})
    app = build(settings=public, database_url=database_url)
    where = "logged_date ge 2021-02-01 and logged_date lt 2021-05-01 and priority eq 'P1'"
    with serve(app, "metrics", port=port) as base:
        done = subprocess.run(
            [node, "client.js", f"{base}/odata/v4/", feed["ticket_key"], "SlaTickets", where],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["version"] == "4.0" and out["messages"] == []
    assert sorted(out["sets"]) == sorted(s.name for s in ENTITY_SETS)
    assert out["keys"] == {s.name: list(s.key) for s in ENTITY_SETS}
    # what the client paged to the end equals our own crawl of the same query
    ours = crawl(feed["api"], "SlaTickets", basic(feed["ticket_key"]), **{"$filter": where})
    assert out["rows"] == ours and len(ours) == out["count"]
    assert out["count"] > 5 and out["pages"] == -(-out["count"] // 5)  # 5-row pages
    assert all(r["priority"] == "P1" for r in out["rows"])
