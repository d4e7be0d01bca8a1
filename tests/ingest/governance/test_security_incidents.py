"""Security incidents: logged through the API or imported from a CSV log; an incident with
no date is refused naming the row and column, and nothing changes."""

from __future__ import annotations

from tests.factories import assert_problem

LOG = (
    "Reference,Title,Opened,Closed,Severity,OS,Assets affected,Status\n"
    "SEC-1,Phishing of finance staff,14/05/2024,20/05/2024,High,Windows 11,3 mailboxes,\n"
    "SEC-2,Unpatched VPN appliance,2024-04-02,,critical,FortiOS,1 appliance,contained\n"
    "SEC-3,Lost laptop,2024-06-11,2024-06-12,low,Windows 10,1 laptop,\n"
)


def _import(shared, text: str, who=None):
    return shared.api.ingest.post(
        shared.path("security-incident-imports"),
        files={"file": ("log.csv", text.encode(), "text/csv")},
        headers=who or shared.staff,
    )


def _listed(shared, query=""):
    r = shared.api.ingest.get(shared.path(f"security-incidents{query}"), headers=shared.staff)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_log_is_imported_and_listed_newest_first(shared):
    r = _import(shared, LOG)
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 3, "created": 3, "updated": 0}
    rows = _listed(shared)
    assert [
        (x["reference"], x["opened_on"], x["closed_on"], x["severity"], x["status"]) for x in rows
    ] == [
        ("SEC-3", "2024-06-11", "2024-06-12", "low", "closed"),
        ("SEC-1", "2024-05-14", "2024-05-20", "high", "closed"),
        ("SEC-2", "2024-04-02", None, "critical", "contained"),
    ]
    severe = _listed(shared, "?severity=high&severity=critical&opened_from=2024-05-01")
    assert [x["reference"] for x in severe] == ["SEC-1"]
    again = _import(shared, LOG.replace("contained", "closed"))
    assert again.json() == {"rows": 3, "created": 0, "updated": 3}
    assert _listed(shared)[2]["status"] == "closed"


def test_an_incident_with_no_date_is_refused_and_nothing_changes(shared):
    assert _import(shared, LOG).status_code == 200
    before = _listed(shared)
    bad = (
        LOG.replace("2024-04-02", "")
        .replace(",low,", ",severe,")
        .replace("2024-06-12", "12th June")
    )
    body = assert_problem(_import(shared, bad), 422, "import_rejected")
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (3, "Opened", "missing_value"),
        (4, "Closed", "not_a_date"),
        (4, "Severity", "invalid_value"),
    ]
    assert body["errors"][0]["message"] == "Opened is empty"
    assert _listed(shared) == before
    closed_early = LOG.replace("14/05/2024,20/05/2024", "14/05/2024,01/05/2024")
    body = assert_problem(_import(shared, closed_early), 422, "import_rejected")
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "Closed", "closed_before_opened")
    ]
    assert _listed(shared) == before


def test_incidents_through_the_api(shared):
    path = shared.path("security-incidents")
    body = {
        "reference": "SEC-9",
        "title": "Malware on kiosk",
        "opened_on": "2024-06-01",
        "severity": "medium",
        "os": "Windows 10",
        "assets_affected": "1 kiosk",
    }
    r = shared.api.ingest.post(path, json=body, headers=shared.staff)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"{path}/{made['id']}"
    assert (made["status"], made["closed_on"]) == ("open", None)
    assert_problem(shared.api.ingest.post(path, json=body, headers=shared.staff), 409, "duplicate")
    no_date = {k: v for k, v in body.items() if k != "opened_on"} | {"reference": "SEC-10"}
    problem = assert_problem(
        shared.api.ingest.post(path, json=no_date, headers=shared.staff), 422, "validation_error"
    )
    assert [e["field"] for e in problem["errors"]] == ["opened_on"]
    r = shared.api.ingest.patch(
        f"{path}/{made['id']}",
        json={"closed_on": "2024-06-03", "status": "closed"},
        headers=shared.staff,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["closed_on"], r.json()["status"]) == ("2024-06-03", "closed")
    assert_problem(
        shared.api.ingest.patch(
            f"{path}/{made['id']}", json={"closed_on": "2024-05-01"}, headers=shared.staff
        ),
        422,
        "closed_before_opened",
    )
    assert shared.api.ingest.get(f"{path}/{made['id']}", headers=shared.partner).status_code == 200
    assert_problem(
        shared.api.ingest.post(path, json=body, headers=shared.partner), 403, "governance_read_only"
    )
    assert_problem(
        shared.api.ingest.get(path, headers=shared.outsider), 403, "organisation_forbidden"
    )
    as_csv = shared.api.ingest.get(f"{path}?format=csv", headers=shared.partner)
    assert as_csv.text.splitlines()[0] == (
        "id,service_id,reference,title,opened_on,closed_on,severity,os,assets_affected,"
        "status,created_at,updated_at"
    )
