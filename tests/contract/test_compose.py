"""docker-compose.yml and the proxy cannot be run here (no Docker engine), so check them
at the level `docker compose config` would, plus the routing of every API path."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("ingest", "metrics", "survey")


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_dependency_order():
    services = _compose()["services"]
    assert set(services) == {"postgres", "migrate", *APP_SERVICES, "worker", "mailpit", "proxy"}
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["command"] == ["yardstick", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in APP_SERVICES:
        svc = services[name]
        assert svc["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert svc["command"][:2] == ["uvicorn", f"services.{name}.main:app"]
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        assert "migrate" not in " ".join(svc["command"]), "services never migrate on start-up"
    worker = services["worker"]
    assert worker["command"] == ["yardstick", "worker"]
    assert {
        k for k, v in worker["depends_on"].items() if v["condition"] == "service_healthy"
    } == set(APP_SERVICES)
    for name in services:
        for dep in services[name].get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"


def test_environment_points_at_compose_hosts():
    services = _compose()["services"]
    for name in (*APP_SERVICES, "worker", "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://yardstick:yardstick@postgres:5432/")
        for svc in APP_SERVICES:
            assert env[f"YARDSTICK_{svc.upper()}_URL"] == f"http://{svc}:8000"
        assert env["YARDSTICK_SMTP_HOST"] == "mailpit"


def test_published_ports_do_not_clash():
    published = []
    for svc in _compose()["services"].values():
        published += [p.split(":")[0] for p in svc.get("ports", [])]
    assert sorted(published) == ["8025", "8080"]


def _routes() -> dict[str, list[str]]:
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    routes = {}
    for name, paths in re.findall(r"@(\w+) path ([^\n]+)", text):
        routes[name] = paths.split()
        assert re.search(rf"handle @{name} \{{\s*reverse_proxy {name}:8000", text), name
    return routes


def test_proxy_routes_every_api_path_to_its_service():
    routes = _routes()
    assert set(routes) <= set(APP_SERVICES)
    for service in APP_SERVICES:
        doc = json.loads((ROOT / "openapi" / f"{service}.json").read_text())
        for path in doc["paths"]:
            if path in ("/healthz", "/readyz"):
                continue
            owners = [
                s
                for s, pats in routes.items()
                if any(path.startswith(p.rstrip("*")) or path == p for p in pats)
            ]
            assert owners == [service], f"{path} is routed to {owners}, served by {service}"
