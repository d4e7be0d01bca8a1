"""The contract as served: each operation's declared security is what the service enforces,
and /docs and /redoc load Swagger UI and ReDoc from the service itself, never a CDN."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from shared.settings import PROJECT_ROOT

SERVICES = ("ingest", "metrics", "survey")
METHODS = {"get", "put", "post", "delete", "patch"}


def _operations(service: str):
    doc = json.loads((PROJECT_ROOT / "openapi" / f"{service}.json").read_text())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def _concrete(path: str) -> str:
    # an id that exists nowhere, a link token that matches no link
    return re.sub(r"\{token\}", "t" * 32, re.sub(r"\{[a-z_]+\}", "1", path))


@pytest.mark.parametrize("service", SERVICES)
def test_declared_security_is_what_the_service_enforces(api, service):
    """Without credentials, every operation the spec says needs them answers 401; every
    operation it says is public answers something else."""
    client = api.clients[service]
    wrong = []
    for path, method, op in _operations(service):
        response = client.request(method.upper(), _concrete(path))
        declared_public = op["security"] == []
        if declared_public == (response.status_code == 401):
            wrong.append(f"{method.upper()} {path}: declared {op['security']}, got {response}")
        if response.status_code == 401:
            assert response.json()["code"] == "no_credentials", (path, response.text)
    assert not wrong, wrong


class _Refs(HTMLParser):
    """Every URL a page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key):
                self.urls.append(attrs[key])


@pytest.fixture(scope="module")
def docs_clients(settings, database_url):
    import importlib

    clients = {}
    for service in SERVICES:
        app = importlib.import_module(f"services.{service}.main").build(
            settings=settings, database_url=database_url
        )
        clients[service] = TestClient(app)  # no lifespan: the pages need no database
    return clients


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_their_assets_from_the_service(docs_clients, service, page):
    client = docs_clients[service]
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "img-src 'self' data:" in policy and "https:" not in policy
    html = response.text
    assert "cdn." not in html and "googleapis" not in html and "unpkg" not in html
    parser = _Refs()
    parser.feed(html)
    assert parser.urls, "the page references no assets"
    spec_urls = re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)  # Swagger's spec URL
    spec_urls += re.findall(r"""spec-url=['"]([^'"]+)['"]""", html)  # ReDoc's
    assert spec_urls == ["/openapi.json"], spec_urls
    served = {}
    for url in parser.urls + spec_urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url} from elsewhere"
        asset = client.get(url)
        assert asset.status_code == 200, url
        served[url.rsplit(".", 1)[-1]] = asset.headers["content-type"].split(";")[0]
    assert served["js"] in {"text/javascript", "application/javascript"}, served
    assert served["png"] == "image/png"
    assert served["json"] == "application/json"
    if page == "/docs":
        assert served["css"] == "text/css"


def test_docs_assets_are_the_packaged_ones(docs_clients):
    """The bytes served are the ones in the installed wheel (no fetch at start-up)."""
    from importlib.resources import files

    static = files("fastapi_offline") / "static"
    client = docs_clients["ingest"]
    for name, kind in (
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "javascript"),
    ):
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
        assert response.content == (static / name).read_bytes()
