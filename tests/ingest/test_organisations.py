from sqlalchemy import text

from tests.factories import assert_problem, make_org


def test_admin_creates_reads_and_edits_an_organisation(api):
    org = make_org(api, name="Riverside Borough", type="M", users=5200, partnership=True)
    assert org["type"] == "M" and org["users"] == 5200 and org["partnership"] is True

    got = api.ingest.get(f"/api/v1/organisations/{org['id']}", headers=api.auth("admin"))
    assert got.status_code == 200 and got.json()["name"] == "Riverside Borough"

    edited = api.ingest.patch(
        f"/api/v1/organisations/{org['id']}", json={"users": 5300}, headers=api.auth("admin")
    )
    assert edited.status_code == 200
    assert edited.json()["users"] == 5300
    assert edited.json()["updated_at"] >= org["updated_at"]


def test_validation_error_names_the_field_and_stores_nothing(api, owner_engine):
    response = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "X Council", "type": "Q", "nation": "England", "users": -1},
        headers=api.auth("admin"),
    )
    body = assert_problem(response, 422, "validation_error")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"type", "users"}
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM organisations")).scalar() == 0


def test_type_and_nation_must_agree(api):
    response = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Glasgow-ish", "type": "S", "nation": "England", "users": 10},
        headers=api.auth("admin"),
    )
    body = assert_problem(response, 422, "nation_mismatch")
    assert body["errors"] == [{"field": "nation", "message": "must be Scotland for type S"}]


def test_duplicate_name_is_a_409_and_the_first_is_kept(api):
    make_org(api, name="Same Name")
    response = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Same Name", "type": "D", "nation": "England", "users": 5},
        headers=api.auth("admin"),
    )
    body = assert_problem(response, 409, "duplicate")
    assert "uq_organisations_name" in body["detail"]
    listing = api.ingest.get("/api/v1/organisations", headers=api.auth("admin")).json()
    assert [o["type"] for o in listing["items"]] == ["L"]


def test_idempotency_key_returns_the_first_answer(api):
    body = {"name": "Retry Council", "type": "D", "nation": "England", "users": 300}
    headers = {**api.auth("admin"), "Idempotency-Key": "abc-123"}
    first = api.ingest.post("/api/v1/organisations", json=body, headers=headers)
    second = api.ingest.post("/api/v1/organisations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert api.ingest.get("/api/v1/organisations", headers=api.auth("admin")).json()["total"] == 1
    reused = api.ingest.post("/api/v1/organisations", json={**body, "users": 301}, headers=headers)
    assert_problem(reused, 422, "idempotency_key_reused")


def test_participant_sees_only_their_own_organisation(api):
    mine = make_org(api, name="Mine")
    theirs = make_org(api, name="Theirs")
    headers = api.auth("participant", [mine["id"]])
    listing = api.ingest.get("/api/v1/organisations", headers=headers).json()
    assert [o["name"] for o in listing["items"]] == ["Mine"]
    assert listing["total"] == 1
    assert api.ingest.get(f"/api/v1/organisations/{mine['id']}", headers=headers).status_code == 200
    denied = api.ingest.get(f"/api/v1/organisations/{theirs['id']}", headers=headers)
    body = assert_problem(denied, 403, "organisation_forbidden")
    assert "Theirs" not in denied.text
    assert str(theirs["id"]) in body["detail"]
    # a participant cannot create organisations
    create = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Sneaky", "type": "D", "nation": "England", "users": 1},
        headers=headers,
    )
    assert_problem(create, 403, "role_forbidden")


def test_pagination_links_to_the_next_page(api):
    for i in range(3):
        make_org(api, name=f"Paged {i}")
    page = api.ingest.get("/api/v1/organisations?limit=2", headers=api.auth("admin")).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["next"].endswith("/api/v1/organisations?limit=2&offset=2")
    last = api.ingest.get(page["next"], headers=api.auth("admin")).json()
    assert [o["name"] for o in last["items"]] == ["Paged 2"] and last["next"] is None


def test_unknown_id_and_unknown_path_are_problems(api):
    assert_problem(
        api.ingest.get("/api/v1/organisations/999", headers=api.auth("admin")),
        404,
        "organisation_not_found",
    )
    assert_problem(api.ingest.get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(
        api.ingest.get("/api/v1/organisations/99999999999", headers=api.auth("admin")), 422
    )


def test_nul_bytes_are_a_422_not_a_500(api):
    response = api.ingest.get("/api/v1/submissions?module=%00estate", headers=api.auth())
    assert_problem(response, 422, "invalid_value")
    created = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Nul\u0000Council", "type": "D", "nation": "England", "users": 1},
        headers=api.auth(),
    )
    assert_problem(created, 422)
    assert api.ingest.get("/api/v1/organisations", headers=api.auth()).json()["total"] == 0


def test_population_is_set_changed_cleared_and_validated(api):
    admin = api.auth("admin")
    org = make_org(api, name="Populous Borough", population=210_100)
    assert org["population"] == 210_100
    assert make_org(api, name="Unknown Borough")["population"] is None
    path = f"/api/v1/organisations/{org['id']}"
    # another field changed: population unchanged
    assert api.ingest.patch(path, json={"users": 10}, headers=admin).json()["population"] == 210_100
    assert api.ingest.patch(path, json={"population": 0}, headers=admin).json()["population"] == 0
    cleared = api.ingest.patch(path, json={"population": None}, headers=admin)
    assert cleared.status_code == 200 and cleared.json()["population"] is None
    assert api.ingest.get(path, headers=admin).json()["population"] is None
    for bad in (-1, "210100", 2.5, True, 10**12):
        body = assert_problem(
            api.ingest.patch(path, json={"population": bad}, headers=admin),
            422,
            "validation_error",
        )
        assert [e["field"] for e in body["errors"]] == ["population"], bad
    body = assert_problem(
        api.ingest.post(
            "/api/v1/organisations",
            json={"name": "Neg", "type": "L", "nation": "England", "users": 1, "population": -5},
            headers=admin,
        ),
        422,
        "validation_error",
    )
    assert [e["field"] for e in body["errors"]] == ["population"]
