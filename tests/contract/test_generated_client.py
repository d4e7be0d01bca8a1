"""A client generated from each committed spec compiles, imports and calls the services.

openapi-python-client turns openapi/<service>.json into a typed package (attrs models, one
module per operation, named by operationId, grouped by tag). The packages are generated
once per test session into a temporary folder and call the in-process services through
their ASGI transports, authenticated each of the three ways the specs declare.
"""

from __future__ import annotations

import base64
import compileall
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shared.settings import PROJECT_ROOT

SERVICES = ("ingest", "metrics", "survey")
# CSV request bodies (the survey-results import) are sent as bytes, and charts (SVG or
# PNG) arrive as bytes; the generator's post-hooks (ruff) are not needed to import the code.
CONFIG = {
    "content_type_overrides": {
        "text/csv": "application/octet-stream",
        "image/svg+xml": "application/octet-stream",
        "image/png": "application/octet-stream",
    },
    "post_hooks": [],
}


def _for_generator(doc: dict[str, Any]) -> dict[str, Any]:
    """The spec as the generator is given it. A body that may be JSON or CSV (the recipient
    upload) is offered as JSON only: openapi-python-client 0.29 writes code for a choice of
    JSON array or bytes that does not import (``Unset`` undefined, ``isinstance`` on a
    generic). A generated client sends JSON; the CSV form stays in the committed spec."""
    for item in doc["paths"].values():
        for op in item.values():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if "application/json" in content and "text/csv" in content:
                del content["text/csv"]
    return doc


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    root = tmp_path_factory.mktemp("clients")
    config = root / "config.json"
    config.write_text(json.dumps(CONFIG))
    packages: dict[str, ModuleType] = {}
    for service in SERVICES:
        name = f"yardstick_{service}_client"
        spec = root / f"{service}.json"
        doc = json.loads((PROJECT_ROOT / "openapi" / f"{service}.json").read_text())
        spec.write_text(json.dumps(_for_generator(doc)))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "openapi_python_client",
                "generate",
                "--path",
                str(spec),
                "--meta",
                "none",
                "--output-path",
                str(root / name),
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        # the generator says "Warning" for every operation or schema it had to leave out
        assert "Warning" not in output and "WARNING" not in output, output
        assert compileall.compile_dir(root / name, quiet=1), f"{name} does not compile"
    sys.path.insert(0, str(root))
    try:
        for service in SERVICES:
            packages[service] = importlib.import_module(f"yardstick_{service}_client")
            # the package's __init__ does not import its models: load them here, so
            # `package.models` does not depend on which test imported an operation first
            importlib.import_module(f"yardstick_{service}_client.models")
        yield packages
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m.startswith("yardstick_") and "_client" in m]:
            del sys.modules[module]


def _op(package: ModuleType, tag: str, operation_id: str) -> Any:
    return importlib.import_module(
        f"{package.__name__}.api.{tag.replace('-', '_')}.{operation_id.replace('-', '_')}"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_is_generated_and_imports(generated, service):
    """One module per operationId, importable; none left out."""
    package = generated[service]
    doc = json.loads((PROJECT_ROOT / "openapi" / f"{service}.json").read_text())
    expected = {
        (op["tags"][0], op["operationId"])
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    api_dir = Path(package.__file__).parent / "api"
    found = set()
    for info in pkgutil.walk_packages([str(api_dir)], prefix=f"{package.__name__}.api."):
        module = importlib.import_module(info.name)
        if hasattr(module, "sync_detailed"):
            tag_module, op_module = info.name.split(".")[-2:]
            found.add((tag_module, op_module))
    assert found == {
        (tag.replace(" ", "_").replace("-", "_"), op_id.replace("-", "_"))
        for tag, op_id in expected
    }


def test_security_shapes_the_generated_signatures(generated):
    """Operations that need credentials take an AuthenticatedClient; public ones any."""
    survey = generated["survey"]
    secured = _op(survey, "campaigns", "campaigns-list-campaigns")
    public = _op(survey, "respond", "respond-get-survey")
    assert "AuthenticatedClient" in str(inspect.signature(secured.sync).parameters["client"])
    assert "| Client" in str(inspect.signature(public.sync).parameters["client"]) or (
        "Client |" in str(inspect.signature(public.sync).parameters["client"])
    )


def _client(package: ModuleType, transport: Any, token: str, prefix: str = "Bearer") -> Any:
    return package.AuthenticatedClient(
        base_url="http://testserver",
        token=token,
        prefix=prefix,
        raise_on_unexpected_status=True,
        httpx_args={"transport": transport},
    )


def test_generated_clients_call_the_running_services(api, generated):
    ingest, metrics, survey = (generated[s] for s in SERVICES)
    admin = _client(ingest, api.transports["ingest"], api.token("admin"))

    # ingest, bearer JWT: create and list organisations, open and close a cycle
    org_in = ingest.models.OrganisationCreate(
        name="Cardiff Council",
        type_=ingest.models.OrganisationCreateType.W,
        nation=ingest.models.OrganisationCreateNation.WALES,
        users=6100,
    )
    org = _op(ingest, "organisations", "organisations-create-organisation").sync(
        client=admin, body=org_in
    )
    assert isinstance(org, ingest.models.Organisation), org
    assert (org.name, org.nation.value, org.users) == ("Cardiff Council", "Wales", 6100)
    page = _op(ingest, "organisations", "organisations-list-organisations").sync(client=admin)
    assert isinstance(page, ingest.models.PageOrganisation)
    assert page.total == 1 and [o.id for o in page.items] == [org.id]
    assert all(isinstance(o, ingest.models.Organisation) for o in page.items)
    cycle = _op(ingest, "cycles", "cycles-create-cycle").sync(
        client=admin, body=ingest.models.CycleCreate(year=2021)
    )
    assert isinstance(cycle, ingest.models.Cycle) and cycle.data_year == "2020/21"
    closed = _op(ingest, "cycles", "cycles-update-cycle").sync(
        cycle.id,
        client=admin,
        body=ingest.models.CycleUpdate(status=ingest.models.CycleUpdateStatusType0.CLOSED),
    )
    assert isinstance(closed, ingest.models.Cycle) and closed.status.value == "closed"

    # ingest, an API key as a bearer token and as the Basic password
    created = _op(ingest, "api-keys", "api-keys-create-api-key").sync(
        client=admin,
        body=ingest.models.ApiKeyCreate(
            name="Power BI", role=ingest.models.ApiKeyCreateRole.READER, organisations=[org.id]
        ),
    )
    assert isinstance(created, ingest.models.ApiKeyCreated) and created.key.startswith("ys_")
    basic = base64.b64encode(f"powerbi:{created.key}".encode()).decode()
    for client in (
        _client(ingest, api.transports["ingest"], created.key),
        _client(ingest, api.transports["ingest"], basic, prefix="Basic"),
    ):
        got = _op(ingest, "organisations", "organisations-get-organisation").sync(
            org.id, client=client
        )
        assert isinstance(got, ingest.models.Organisation) and got.id == org.id

    # metrics: the cycle's status change arrived through the outbox as a computation run
    assert api.deliver() >= 1
    runs = _op(metrics, "operations", "operations-list-runs").sync(
        client=_client(metrics, api.transports["metrics"], api.token("admin"))
    )
    assert isinstance(runs, metrics.models.PageComputationRun)
    assert [r.kind for r in runs.items] == ["cycle_status"]
    assert isinstance(runs.items[0], metrics.models.ComputationRun)

    # survey, a participant's JWT: create and list campaigns
    staff = _client(survey, api.transports["survey"], api.token("participant", [org.id]))
    campaign = _op(survey, "campaigns", "campaigns-create-campaign").sync(
        client=staff,
        body=survey.models.CampaignCreate(
            organisation_id=org.id,
            kind=survey.models.CampaignCreateKind.USER_SATISFACTION,
            users_in_scope=313,
        ),
    )
    assert isinstance(campaign, survey.models.Campaign), campaign
    assert campaign.status.value == "draft" and campaign.users_in_scope == 313
    listed = _op(survey, "campaigns", "campaigns-list-campaigns").sync(client=staff)
    assert isinstance(listed, survey.models.PageCampaign)
    assert [c.id for c in listed.items] == [campaign.id]

    # survey, public: no credentials; an unknown link is a typed problem
    anonymous = survey.Client(
        base_url="http://testserver", httpx_args={"transport": api.transports["survey"]}
    )
    problem = _op(survey, "respond", "respond-get-survey").sync("t" * 32, client=anonymous)
    assert isinstance(problem, survey.models.Problem) and problem.status == 404
