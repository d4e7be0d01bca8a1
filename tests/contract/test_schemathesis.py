"""Property-based contract tests: every operation of every service, as an admin and as a
participant, under every check schemathesis has (the CLI's ``--checks all``): no 5xx,
documented status codes, headers and content types, bodies that match their schemas,
invalid input refused and valid input accepted, a missing required header refused, an
undeclared method answered 405 with an ``Allow`` that lists what the path allows, and no
operation that answers without credentials when it declares security.

The cases come from the committed openapi/*.json (which a drift test keeps equal to the
code) and go in process to each service on the test database, through schemathesis' ASGI
transport, so the checks that send probes of their own (``ignored_auth`` without or with
bad credentials, ``object_level_authorization``) reach the same app.

Bounded in time: at most ``MAX_EXAMPLES`` generated cases per operation and phase, all three
services in one xdist group so they share one worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.python import asgi
from sqlalchemy import text

from shared.auth import mint_token
from shared.idempotency import IDEMPOTENCY_KEY as IDEMPOTENCY
from shared.settings import PROJECT_ROOT
from shared.testing.plugin import truncate_all

load_all_checks()
# Every registered check, exactly what `schemathesis run --checks all` runs. Nothing is
# excluded globally; a check that cannot be meaningful for one operation is excluded for
# that operation only, in NOT_MEANINGFUL, with the reason.
ALL_CHECKS: list[Callable[..., Any]] = list(CHECKS.get_all())
ALL_CHECK_NAMES = {check.__name__ for check in ALL_CHECKS}

# positive_data_acceptance sends schema-valid input and wants it accepted; where validity
# also depends on the clock, on stored rows or on a rule across fields that OpenAPI cannot
# state, a schema-valid case is rightly refused (a 422 naming the field), so that one check
# is left out for that operation only. Every other check still runs there.
_CLOCK = "valid only relative to today (a date in the future), which a schema cannot state"
_STORED = "valid only against stored rows the generator cannot know"
_ACROSS = "valid only under a rule across fields that JSON Schema here does not state"
_PEERS = "peer_group and the custom filters exclude each other (a rule across parameters)"
_FILE = "the upload must be a CSV or XLSX export with the columns the description lists"
NOT_MEANINGFUL: dict[tuple[str, str], dict[str, str]] = {
    ("ingest", "POST /api/v1/api-keys"): {"positive_data_acceptance": _CLOCK},
    ("ingest", "POST /api/v1/organisations"): {
        "positive_data_acceptance": _ACROSS + " (type agrees with nation)"
    },
    ("ingest", "PATCH /api/v1/organisations/{organisation_id}"): {
        "positive_data_acceptance": _ACROSS + " (type agrees with the stored nation)"
    },
    ("ingest", "POST /api/v1/feedback"): {
        "positive_data_acceptance": _ACROSS + " (satisfaction, recommendation or both)"
    },
    ("ingest", "POST /api/v1/ticket-imports"): {
        "positive_data_acceptance": _STORED + " (profile may name a saved mapping)"
    },
    ("ingest", "POST /api/v1/ticket-intervals"): {
        "positive_data_acceptance": _STORED + " (references are stored tickets)"
    },
    ("ingest", "POST /api/v1/submissions/{submission_id}/reopen"): {
        "positive_data_acceptance": _STORED + " (an accepted submission needs a reason)"
    },
    ("ingest", "POST /api/v1/cycles"): {
        "positive_data_acceptance": _ACROSS + " (a published cycle has a release date)"
    },
    ("ingest", "PATCH /api/v1/cycles/{cycle_id}"): {
        "positive_data_acceptance": _STORED + " (a stored published cycle keeps its release date)"
    },
    ("ingest", "POST /api/v1/workshops"): {
        "positive_data_acceptance": _CLOCK
        + "; ends_at after starts_at (across fields); members with a code in the stored cycle"
    },
    ("ingest", "POST /api/v1/imports"): {
        "positive_data_acceptance": "the CSV text must have the columns of a module"
    },
    ("ingest", "POST /api/v1/organisations/{organisation_id}/calendars"): {
        "positive_data_acceptance": _ACROSS + " (at least one working window in the week)"
    },
    ("ingest", "POST /api/v1/organisations/{organisation_id}/sla-policies"): {
        "positive_data_acceptance": _STORED + " (calendar_id names a stored calendar)"
    },
    ("ingest", "POST /api/v1/organisations/{organisation_id}/ola-policies"): {
        "positive_data_acceptance": _STORED + " (calendar_id names a stored calendar)"
    },
    ("ingest", "PUT /api/v1/organisations/{organisation_id}/organisation-values/{source_system}"): {
        "positive_data_acceptance": _STORED
        + " (each value maps to a stored organisation the caller may push for)"
    },
    ("metrics", "GET /api/v1/sla/tickets"): {
        "negative_data_rejection": "a non-text value for a text filter (team=true) arrives "
        "in the query string as valid text"
    },
    ("metrics", "GET /api/v1/sla/ola-tickets"): {
        "negative_data_rejection": "a non-text value for a text filter (team=true, "
        "resolver_group=1) arrives in the query string as valid text",
        "positive_data_acceptance": _ACROSS + " (assigned_to not before assigned_from)",
    },
    ("ingest", "POST /api/v1/organisations/{organisation_id}/ticket-mappings"): {
        "positive_data_acceptance": _ACROSS + " (the columns cover the profile's fields)"
    },
    ("ingest", "POST /api/v1/submissions"): {
        "positive_data_acceptance": _STORED + " (module is in the stored cycle's catalogue)"
    },
    ("ingest", "PUT /api/v1/submissions/{submission_id}/answers"): {
        "positive_data_acceptance": _STORED + " (answers fit the stored catalogue)"
    },
    ("ingest", "PATCH /api/v1/submissions/{submission_id}/answers"): {
        "positive_data_acceptance": _STORED + " (answers fit the stored catalogue)"
    },
    # A shared service's governance data (issue #11): files must be the export they stand
    # for, organisations and groups are the service's, an item once per key.
    **{
        ("ingest", f"{method} /api/v1/organisations/{{organisation_id}}/{path}"): {
            "positive_data_acceptance": why
        }
        for method, path, why in (
            ("PUT", "partners", _STORED + " (partners are other stored organisations)"),
            ("PUT", "finance-groups/{key}", _STORED + " (a label no other group has)"),
            ("PUT", "finance-reports/{financial_year}/{period}", _STORED + " (the groups)"),
            ("PUT", "cost-tables/{financial_year}/{period}", _STORED + " (the partners)"),
            ("PUT", "commentary/{financial_year}/{period}", _ACROSS + " (an entry once)"),
            ("PUT", "risk-register/{financial_year}/{period}", _ACROSS + " (a reference once)"),
            *(
                (method, f"{path}", _FILE)
                for method, path in (
                    ("PUT", "finance-reports/{financial_year}/{period}/file"),
                    ("PUT", "cost-tables/{financial_year}/{period}/file"),
                    ("PUT", "risk-register/{financial_year}/{period}/file"),
                    ("POST", "security-incident-imports"),
                )
            ),
        )
    },
    **{
        ("metrics", operation): {
            "positive_data_acceptance": _ACROSS + " (month_to is not before month_from)"
        }
        for operation in (
            "GET /api/v1/nps",
            "GET /api/v1/sla/feedback/satisfaction",
            "GET /api/v1/explain/nps",
        )
    },
    ("metrics", "GET /api/v1/survey-results/campaigns/{campaign_id}/charts/breakdowns"): {
        "positive_data_acceptance": _STORED + " (the attribute is one the campaign broke down by)"
    },
    ("survey", "POST /api/v1/campaigns"): {"positive_data_acceptance": _CLOCK},
    ("survey", "PUT /api/v1/campaigns/{campaign_id}/headcount"): {
        "positive_data_acceptance": _STORED
        + " (attributes and options the stored campaign asks about, responses received)"
    },
    **{
        ("metrics", operation): {
            "positive_data_acceptance": _STORED + " (a baseline needs earlier cycles with results)"
        }
        for operation in (
            "GET /api/v1/survey-results/group/factors",
            "GET /api/v1/survey-results/group/charts/factors",
            "GET /api/v1/explain/survey-group-factor",
        )
    },
    ("survey", "PATCH /api/v1/campaigns/{campaign_id}"): {
        "positive_data_acceptance": _CLOCK + "; and the stored campaign's state"
    },
    ("survey", "POST /api/v1/campaigns/{campaign_id}/recipients"): {
        # The edge refuses a NUL at any depth of a JSON document, the keys of extra fields
        # included (shared/types.py nul_paths); the body schema cannot say that recursively.
        "positive_data_acceptance": "a NUL anywhere in the document is refused"
    },
    **{
        ("metrics", f"GET /api/v1/results/{report}"): {"positive_data_acceptance": _PEERS}
        for report in (
            "comparison",
            "distribution",
            "trends",
            "charts/distribution",
            "charts/trends",
        )
    },
    ("metrics", "GET /api/v1/explain/benchmark"): {"positive_data_acceptance": _PEERS},
    ("metrics", "GET /api/v1/explain/pack-total"): {
        "positive_data_acceptance": _ACROSS + " (the column names one of the figure's columns)"
    },
}

MAX_EXAMPLES = 20
# Derandomised, so a run is repeatable and CI never fails on a draw it cannot reproduce.
# Why: with random draws, negative_data_rejection sometimes "fails" on a value that only
# violates the schema before it is written into a query string (a number -2.6e16 for a
# string-typed `closure_category`, which arrives as the valid string "-2.6e+16"); a
# schemathesis false positive, not an API defect. Wider exploration: run with
# YARDSTICK_SCHEMATHESIS_RANDOM=1 and read such failures with that in mind.
SETTINGS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("YARDSTICK_SCHEMATHESIS_RANDOM"),
)


def _schema(service: str) -> Any:
    return schemathesis.openapi.from_path(str(PROJECT_ROOT / "openapi" / f"{service}.json"))


@pytest.fixture(scope="module")
def apps(service_builders, settings, database_url, owner_engine) -> Iterator[dict[str, Any]]:
    truncate_all(owner_engine)
    with owner_engine.begin() as conn:  # a little data so lookups by id can succeed
        conn.execute(
            text(
                "INSERT INTO organisations (name, type, nation, users) VALUES "
                "('Seed One', 'L', 'England', 100), ('Seed Two', 'S', 'Scotland', 200)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cycles (year, status, results_release_date) "
                "VALUES (2020, 'published', '2020-11-01')"
            )
        )
    built = {
        service: service_builders[service](settings=settings, database_url=database_url)
        for service in ("ingest", "metrics", "survey")
    }
    yield built
    # The ASGI transport started each app's lifespan once and kept it; end them, so the
    # engines close before the test database is dropped.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def who(settings) -> list[dict[str, str]]:
    """Headers for an admin and for a participant of organisation 1."""
    return [
        {
            "Authorization": "Bearer "
            + mint_token(
                settings,
                subject=f"st-{role}",
                roles=[role],
                organisations=[1],
                ttl=timedelta(hours=1),
            )
        }
        for role in ("admin", "participant")
    ]


def _run(service: str, app: Any, case: Any, who: list[dict[str, str]]) -> None:
    operation = case.operation
    # Requests and the checks' own probes go to this app, in process.
    operation.app = operation.schema.app = app
    skipped = NOT_MEANINGFUL.get((service, operation.label), {})
    assert set(skipped) <= ALL_CHECK_NAMES, f"unknown check names in NOT_MEANINGFUL: {skipped}"
    checks = [check for check in ALL_CHECKS if check.__name__ not in skipped]
    for headers in who:
        _fresh_idempotency_key(case)
        case.call_and_validate(headers=headers, checks=checks)


def _fresh_idempotency_key(case: Any) -> None:
    """A key used again with another body is refused (422 ``idempotency_key_reused``, as
    the IETF draft says) and the generator repeats keys, so a schema-valid case gets a key
    of its own; a case that negates the header keeps its invalid key."""
    headers = case.headers or {}
    if case.meta is not None and case.meta.generation.mode.is_positive and IDEMPOTENCY in headers:
        headers[IDEMPOTENCY] = uuid4().hex


@pytest.mark.xdist_group("schemathesis")
@_schema("ingest").parametrize()
@SETTINGS
def test_ingest_contract(case, apps, who):
    _run("ingest", apps["ingest"], case, who)


@pytest.mark.xdist_group("schemathesis")
@_schema("metrics").parametrize()
@SETTINGS
def test_metrics_contract(case, apps, who):
    _run("metrics", apps["metrics"], case, who)


@pytest.mark.xdist_group("schemathesis")
@_schema("survey").parametrize()
@SETTINGS
def test_survey_contract(case, apps, who):
    _run("survey", apps["survey"], case, who)


def test_exclusions_name_real_operations():
    """An exclusion for an operation that no longer exists is stale: drop or rename it."""
    for service, label in NOT_MEANINGFUL:
        method, path = label.split(" ", 1)
        spec = json.loads((PROJECT_ROOT / "openapi" / f"{service}.json").read_text())
        assert method.lower() in spec["paths"].get(path, {}), (service, label)


def test_every_check_runs():
    """The list is schemathesis' own full list, so an upgrade that adds a check adds it here."""
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
    } <= ALL_CHECK_NAMES
