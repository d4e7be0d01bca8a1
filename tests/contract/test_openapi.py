"""The committed openapi/<service>.json must equal what the code generates."""

import json

import pytest

from shared.settings import PROJECT_ROOT
from yardstick.cli import openapi_documents, render_openapi


@pytest.fixture(scope="module")
def documents():
    return openapi_documents()


@pytest.mark.parametrize("service", ["ingest", "metrics", "survey"])
def test_committed_spec_matches_the_code(documents, service):
    path = PROJECT_ROOT / "openapi" / f"{service}.json"
    assert path.exists(), f"{path} missing: run `yardstick openapi`"
    assert path.read_text() == render_openapi(documents[service]), (
        f"{path} is stale: run `yardstick openapi` and commit the result"
    )


def test_every_operation_documents_problem_responses(documents):
    for service, doc in documents.items():
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if path in ("/healthz", "/readyz"):
                    continue
                assert "422" in op["responses"] or method == "get", (service, path, method)
                assert json.dumps(op["responses"]).count("problem+json") >= 1, (service, path)
