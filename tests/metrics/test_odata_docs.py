"""docs/bi: the Power BI M query and the Tableau data source name only tables and fields
that exist in the feed's $metadata, and every URL they name answers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.metrics.test_odata import EDM, basic, feed  # noqa: F401  (the data set fixture)

pytestmark = pytest.mark.xdist_group("odata")

DOCS = Path(__file__).parents[2] / "docs" / "bi"
ROOT = "https://metrics.yardstick.example/odata/v4/"


def _model(api, headers) -> dict[str, set[str]]:
    """Entity set -> property names, read from $metadata."""
    doc = ET.fromstring(api.metrics.get("/odata/v4/$metadata", headers=headers).content)
    schema = doc.find(f".//{EDM}Schema")
    types = {
        t.get("Name"): {p.get("Name") for p in t.findall(f"{EDM}Property")}
        for t in schema.findall(f"{EDM}EntityType")
    }
    container = schema.find(f"{EDM}EntityContainer")
    return {
        s.get("Name"): types[s.get("EntityType").split(".")[-1]]
        for s in container.findall(f"{EDM}EntitySet")
    }


def _check_url(api, headers, model, url: str) -> tuple[str, dict[str, str]]:
    """The URL's entity set and options: in the model, and answered 200 by the feed."""
    parts = urlsplit(url)
    assert url.startswith(ROOT), url
    name = parts.path.removeprefix(urlsplit(ROOT).path)
    assert name in model, name
    options = dict(parse_qsl(parts.query))
    for field in options.get("$select", "").split(","):
        assert not field or field in model[name], (name, field)
    for word in re.findall(r"[a-z_]+(?= (?:eq|ne|gt|ge|lt|le|in) )", options.get("$filter", "")):
        assert word in model[name], (name, word)
    r = api.metrics.get(f"/odata/v4/{name}", params=options, headers=headers)
    assert r.status_code == 200, (url, r.text)
    return name, options


def test_power_bi_query_names_only_what_the_feed_has(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    admin = api.auth()
    model = _model(api, headers)
    text = (DOCS / "yardstick.pq").read_text()
    assert f'Root = "{ROOT}"' in text
    assert "ODataVersion = 4" in text
    # every navigation step: Source{[Name = "<set>" ...]}[Data] and the columns it keeps
    steps = re.findall(
        r'Source\{\[Name = "(\w+)", Signature = "table"\]\}\[Data\]'
        r"(?:,\s*each [^)]*\))?,\s*\{([^}]*)\}",
        text,
    )
    named = {name for name, _ in steps}
    assert len(named) >= 7, named
    for name, columns in steps:
        assert name in model, name
        for column in re.findall(r'"(\w+)"', columns):
            assert column in model[name], (name, column)
    for field in re.findall(r"each \[(\w+)\]", text):
        assert field in model["Comparisons"], field
    # the URL built from Root: joined, it is a query the feed answers
    joined = re.search(r'Root & "(SlaTickets[^"]*)"\s*& "([^"]*)"\s*& "([^"]*)"', text)
    assert joined, "the SlaTickets URL"
    url = ROOT + "".join(joined.groups())
    _check_url(api, admin, model, url)


def test_tableau_data_source_names_only_what_the_feed_has(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    model = _model(api, headers)
    tds = ET.parse(DOCS / "yardstick-comparisons.tds").getroot()
    connection = tds.find("connection")
    assert connection.get("class") == "odata"
    name, options = _check_url(api, headers, model, connection.get("server"))
    assert tds.find("connection/relation").get("name") == name
    remote = [r.text for r in tds.iter("remote-name")]
    assert remote == options["$select"].split(",")
    for column in remote:
        assert column in model[name], column
