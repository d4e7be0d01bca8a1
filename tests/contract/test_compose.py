"""docker-compose.yml, its production profile and the proxy cannot be run here (no Docker
engine), so check them at the level `docker compose config` would, plus the routing of
every API path and the docs, and start each process's settings the way production would."""

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("ingest", "metrics", "survey")
PROCESSES = (*APP_SERVICES, "worker", "migrate")
LONG_RUNNING = ("postgres", "pgbouncer", *APP_SERVICES, "worker", "mailpit", "proxy")
SECRET_WORDS = ("PASSWORD", "SECRET", "PEPPER", "KEY", "TOKEN")


class _Tagged:
    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _ComposeLoader(yaml.SafeLoader):
    """Compose's merge tags: !override replaces the base value, !reset removes it."""


def _tagged(tag: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> _Tagged:
        if isinstance(node, yaml.SequenceNode):
            return _Tagged(tag, loader.construct_sequence(node, deep=True))
        if isinstance(node, yaml.MappingNode):
            return _Tagged(tag, loader.construct_mapping(node, deep=True))
        return _Tagged(tag, loader.construct_scalar(node))

    return construct


_ComposeLoader.add_constructor("!override", _tagged("override"))
_ComposeLoader.add_constructor("!reset", _tagged("reset"))


def _load(name: str) -> dict[str, Any]:
    return yaml.load((ROOT / name).read_text(), Loader=_ComposeLoader)


def _merge(base: Any, over: Any) -> Any:
    if isinstance(over, _Tagged):
        return None if over.tag == "reset" else over.value
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            result = _merge(base.get(key), value)
            if result is None and isinstance(value, _Tagged):
                merged.pop(key, None)
            else:
                merged[key] = result
        return merged
    return over


def _compose() -> dict[str, Any]:
    return _load("docker-compose.yml")


def _production() -> dict[str, Any]:
    return _merge(_compose(), _load("docker-compose.production.yml"))


def _env_file(path: str) -> dict[str, str]:
    values = {}
    for line in (ROOT / path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _env_files(svc: dict[str, Any]) -> list[str]:
    files = []
    for entry in svc.get("env_file", []):
        path = entry["path"] if isinstance(entry, dict) else entry
        files.append(re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", path))
    return files


# ------------------------------------------------------------------ the development stack


def test_services_and_dependency_order():
    services = _compose()["services"]
    assert set(services) == {
        "postgres",
        "migrate",
        "pgbouncer",
        *APP_SERVICES,
        "worker",
        "mailpit",
        "proxy",
    }
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["command"] == ["yardstick", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["pgbouncer"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in APP_SERVICES:
        svc = services[name]
        assert svc["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert svc["depends_on"]["pgbouncer"] == {"condition": "service_healthy"}
        assert svc["command"][:2] == ["uvicorn", f"services.{name}.main:app"]
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        assert "migrate" not in " ".join(svc["command"]), "services never migrate on start-up"
    worker = services["worker"]
    assert worker["command"] == ["yardstick", "worker"]
    assert {k for k, v in worker["depends_on"].items() if v["condition"] == "service_healthy"} == {
        *APP_SERVICES,
        "pgbouncer",
    }
    for name in services:
        for dep in services[name].get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"


# What the metrics service loads from the OS at run time (no wheel ships them): the Debian
# package and the library file in it that is opened (None: fonts, found by fontconfig).
RUNTIME_PACKAGES = {
    "libpango-1.0-0": "libpango-1.0.so.0",  # WeasyPrint: the pack's PDF
    "libpangoft2-1.0-0": "libpangoft2-1.0.so.0",  # WeasyPrint
    "libharfbuzz-subset0": "libharfbuzz-subset.so.0",  # WeasyPrint: font subsets
    "libcairo2": "libcairo.so.2",  # cairosvg: chart PNGs
    "fonts-liberation": "LiberationSans-Regular.ttf",  # the pack's and the charts' font
}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_image_the_metrics_service_runs_installs_its_run_time_libraries():
    services = _compose()["services"]
    assert services["metrics"]["build"] == "."  # the Dockerfile at the root, its last stage
    steps = _dockerfile_instructions()
    froms = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    final = steps[froms[-1] :]
    base = final[0][1].split()[0]
    # A Debian release named in the tag, so the package names below are the ones it has.
    assert re.fullmatch(r"python:3\.\d+-slim-(bookworm|trixie)", base), base
    installed: set[str] = set()
    user_at = next(i for i, (word, _) in enumerate(final) if word == "USER")
    for i, (word, args) in enumerate(final):
        for command in args.split("&&") if word == "RUN" else ():
            parts = command.split()
            if parts[:2] == ["apt-get", "install"]:
                assert i < user_at, "packages are installed as root, before USER"
                assert "-y" in parts and "--no-install-recommends" in parts
                installed |= {p for p in parts[2:] if not p.startswith("-")}
    missing = set(RUNTIME_PACKAGES) - installed
    assert not missing, f"the Dockerfile does not install {sorted(missing)}"
    run = " ".join(args for word, args in final if word == "RUN")
    assert "rm -rf /var/lib/apt/lists/*" in run  # the package lists are not kept in the image


def test_the_run_time_packages_are_the_ones_holding_the_libraries_loaded():
    """On a Debian machine (this one, CI), each library the metrics service opens belongs to
    the package the Dockerfile installs for it."""
    import shutil
    import subprocess

    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian machine: no dpkg-query")
    for package, path in RUNTIME_PACKAGES.items():
        found = subprocess.run(
            ["dpkg-query", "-S", f"*/{path}"], capture_output=True, text=True, check=False
        )
        if found.returncode != 0:
            pytest.skip(f"{path} is not installed here")
        owners = {line.split(":")[0] for line in found.stdout.splitlines()}
        assert package in owners, (path, owners)


def test_every_long_running_service_is_healthchecked_and_every_image_pinned():
    services = _compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    worker_check = " ".join(services["worker"]["healthcheck"]["test"])
    assert (
        f":{services['worker']['environment']['YARDSTICK_WORKER_METRICS_PORT']}/healthz"
        in worker_check
    )
    assert "/proxy/healthz" in " ".join(services["proxy"]["healthcheck"]["test"])
    assert "handle /proxy/healthz" in (ROOT / "deploy" / "Caddyfile").read_text()
    for name, svc in services.items():
        image = svc["image"]
        if "build" in svc:  # ours: tagged with the release being deployed
            assert image.endswith(":${YARDSTICK_VERSION:-local}"), name
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), f"{name}: {image} is not pinned"
    for dockerfile in (ROOT / "deploy").rglob("Dockerfile"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("FROM "):
                assert re.search(r":\d+\.\d+", line), f"{dockerfile}: {line} is not pinned"


def test_each_process_logs_in_as_its_own_role_through_pgbouncer():
    services = _compose()["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DATABASE_URL"] == f"postgresql://yardstick_{name}@pgbouncer:6432/yardstick"
        assert env["YARDSTICK_DB_SET_ROLE"] == "false"  # nothing to RESET
        assert env["YARDSTICK_DB_TRANSACTION_POOLING"] == "true"
        # The password: its own, from the env file, handed to libpq as PGPASSWORD.
        assert (
            f'PGPASSWORD="$$YARDSTICK_DB_PASSWORD_{name.upper()}"'
            in services[name]["entrypoint"][2]
        )
        for svc in APP_SERVICES:
            assert env[f"YARDSTICK_{svc.upper()}_URL"] == f"http://{svc}:8000"
    worker = services["worker"]["environment"]
    assert worker["DATABASE_URL"] == "postgresql://yardstick_worker@pgbouncer:6432/yardstick"
    assert worker["YARDSTICK_DB_SET_ROLE"] == "true"  # SET LOCAL ROLE ingest / survey
    migrate = services["migrate"]["environment"]
    assert (
        migrate["DATABASE_URL"] == "postgresql://yardstick@postgres:5432/yardstick"
    )  # owner, direct
    # The roles exist before the migrations grant them their tables, the worker's with
    # the two roles whose outboxes it delivers.
    init = (ROOT / "deploy" / "postgres" / "init-roles.sh").read_text()
    assert "for service in ingest metrics survey worker" in init
    assert 'CREATE ROLE :"role" LOGIN PASSWORD' in init
    assert "GRANT yardstick_ingest, yardstick_survey TO yardstick_worker" in init
    mounted = services["postgres"]["volumes"]
    assert (
        "./deploy/postgres/init-roles.sh:/docker-entrypoint-initdb.d/10-init-roles.sh:ro" in mounted
    )
    ini = (ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini").read_text()
    assert re.search(r"^pool_mode = transaction$", ini, re.M)
    assert re.search(r"^auth_type = scram-sha-256$", ini, re.M)
    assert re.search(r"^yardstick = host=postgres port=5432 dbname=yardstick$", ini, re.M)
    entry = (ROOT / "deploy" / "pgbouncer" / "entrypoint.sh").read_text()
    assert "for service in ingest metrics survey worker" in entry


def test_no_secret_is_written_in_the_compose_files():
    for name in ("docker-compose.yml", "docker-compose.production.yml"):
        for svc_name, svc in _load(name)["services"].items():
            env = svc.get("environment") or {}
            for key, value in env.items():
                assert not any(w in key for w in SECRET_WORDS), f"{name} {svc_name}: {key} inline"
                if key == "DATABASE_URL":
                    assert ":" not in value.split("//", 1)[1].split("@", 1)[0], (
                        "a password in the URL"
                    )
        assert "PASSWORD:" not in (ROOT / name).read_text()
    for svc in _compose()["services"].values():
        if "build" in svc or svc.get("image", "").startswith("postgres"):
            assert _env_files(svc) == ["deploy/env/development.env"]


def test_uvicorn_trusts_forwarded_headers_from_the_proxy_only():
    services = _compose()["services"]
    proxy_ip = services["proxy"]["networks"]["default"]["ipv4_address"]
    subnet = _compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert proxy_ip.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]
    for name in APP_SERVICES:
        command = services[name]["command"]
        assert "--proxy-headers" in command
        assert command[command.index("--forwarded-allow-ips") + 1] == proxy_ip
        assert "--no-access-log" in command  # its lines hold client addresses


def test_published_ports_do_not_clash():
    published = []
    for svc in _compose()["services"].values():
        published += [p.rsplit(":", 1)[0] for p in svc.get("ports", [])]
    assert sorted(published) == ["127.0.0.1:8025", "8080"]


# ------------------------------------------------------------------ the production profile


def test_production_profile_runs_every_process_in_production_with_its_env_file():
    services = _production()["services"]
    for name in (*PROCESSES, "postgres", "pgbouncer"):
        assert _env_files(services[name]) == ["deploy/env/production.env"], name
    for name in PROCESSES:
        assert services[name]["environment"]["YARDSTICK_ENVIRONMENT"] == "production"
    assert services["mailpit"]["profiles"] == ["development"]
    assert "ports" not in services["mailpit"]
    assert "deploy/env/production.env" in (ROOT / ".gitignore").read_text().splitlines()


def _settings_for(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    import os

    for key in list(os.environ):
        if key.startswith("YARDSTICK_") or key == "DATABASE_URL":
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


@pytest.mark.parametrize("process", PROCESSES)
def test_production_refuses_development_secrets_and_starts_with_real_ones(process, monkeypatch):
    env = {k: str(v) for k, v in _production()["services"][process]["environment"].items()}
    example = _env_file("deploy/env/production.env.example")
    # Without the env file (or with its secrets left empty): the development defaults
    # would apply, and production refuses them, naming each.
    with pytest.raises(ValidationError) as refused:
        _settings_for(monkeypatch, env)
    message = str(refused.value)
    assert "refusing to start in production with development default secrets" in message
    for name in (
        "YARDSTICK_JWT_HS256_SECRET",
        "YARDSTICK_SERVICE_TOKEN_SECRET",
        "YARDSTICK_API_KEY_PEPPER",
    ):
        assert name in message
    filled = {k: (v or secrets.token_urlsafe(32)) for k, v in example.items()}
    filled["YARDSTICK_SMTP_PORT"] = example["YARDSTICK_SMTP_PORT"]
    settings = _settings_for(monkeypatch, {**filled, **env})
    assert settings.environment == "production"
    assert settings.metrics_token is not None
    assert settings.jwt_hs256_secret.get_secret_value() == filled["YARDSTICK_JWT_HS256_SECRET"]


def test_every_secret_a_process_needs_is_named_in_the_example():
    example = _env_file("deploy/env/production.env.example")
    development = _env_file("deploy/env/development.env")
    assert {k for k in development if any(w in k for w in SECRET_WORDS)} <= set(example)
    assert all(example[k] == "" for k in example if any(w in k for w in SECRET_WORDS))


# ------------------------------------------------------------------ the proxy


def _routes() -> dict[str, list[str]]:
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    routes = {}
    for name, paths in re.findall(r"@(\w+) path ([^\n]+)", text):
        routes[name] = paths.split()
        upstream = name.removesuffix("_docs")
        assert re.search(rf"handle @{name} \{{[^}}]*reverse_proxy {upstream}:8000", text), name
    return routes


def test_proxy_routes_every_api_path_to_its_service():
    routes = {k: v for k, v in _routes().items() if not k.endswith("_docs")}
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


def test_proxy_routes_each_services_docs_and_spec_but_not_metrics():
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    docs = {k.removesuffix("_docs"): v for k, v in _routes().items() if k.endswith("_docs")}
    assert docs == {s: [f"/docs/{s}", f"/redoc/{s}"] for s in APP_SERVICES}
    for service in APP_SERVICES:
        block = re.search(rf"handle @{service}_docs \{{([^}}]*)\}}", text).group(1)
        assert f'Set-Cookie "yardstick_docs={service}; Path=/; SameSite=Strict"' in block
        assert f"uri strip_suffix /{service}" in block  # /docs/ingest -> the service's /docs
        spec = re.search(rf"@{service}_spec \{{([^}}]*)\}}", text).group(1)
        assert "path /openapi.json" in spec and f"yardstick_docs={service}" in spec
        assert re.search(rf"handle @{service}_spec \{{\s*reverse_proxy {service}:8000", text)
        for link in (f'href="/docs/{service}"', f'href="/redoc/{service}"'):
            assert link in text  # the /docs index page
    assert re.search(r"handle /docs/assets/\* \{\s*reverse_proxy ingest:8000", text)
    # /metrics answers the scraper beside each process, never the world through the proxy.
    assert not re.search(r"^\s*(@\w+ path|handle)\b[^\n]*\s/metrics\b", text, re.M)
