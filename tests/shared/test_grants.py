"""The database enforces table ownership: a service's role writes only what it owns."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

import shared.db.tables  # noqa: F401
from shared.db.engine import make_engine
from shared.db.grants import SERVICES, role_name
from shared.db.metadata import metadata
from shared.db.tables import ingest_submissions, metrics_workshops

APPEND_ONLY = ingest_submissions.APPEND_ONLY + metrics_workshops.APPEND_ONLY


def test_live_privileges_match_the_declared_owners(owner_engine):
    with owner_engine.connect() as conn:
        for table in metadata.sorted_tables:
            owner, readers = table.info["owner"], table.info["readers"]
            for service in SERVICES:
                can = {
                    priv: conn.execute(
                        text("SELECT has_table_privilege(:r, :t, :p)"),
                        {"r": role_name(service), "t": table.name, "p": priv},
                    ).scalar()
                    for priv in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
                }
                expected_write = service == owner
                expected_read = service == owner or service in readers
                if table.name in APPEND_ONLY:
                    # The one deliberate exception: the owner appends and reads only.
                    assert can["INSERT"] is expected_write, (table.name, service, can)
                    assert can["UPDATE"] is can["DELETE"] is False, (table.name, service, can)
                else:
                    assert can["INSERT"] is can["UPDATE"] is can["DELETE"] is expected_write, (
                        table.name,
                        service,
                        can,
                    )
                assert can["SELECT"] is expected_read, (table.name, service, can)
                assert can["TRUNCATE"] is False


def test_every_table_declares_an_owner():
    for table in metadata.sorted_tables:
        assert table.info.get("owner") in SERVICES, table.name


@pytest.mark.parametrize("role", ["metrics", "survey"])
def test_a_service_cannot_write_a_table_it_does_not_own(database_url, clean_db, role):
    engine = make_engine(database_url, role=role, pool_size=1)
    try:
        with pytest.raises(ProgrammingError) as err, engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisations (name, type, nation, users) "
                    "VALUES ('x', 'L', 'England', 1)"
                )
            )
        assert err.value.orig.sqlstate == "42501"  # insufficient_privilege
    finally:
        engine.dispose()


def test_metrics_has_no_privilege_on_private_tables(owner_engine):
    """The mechanism the survey invitations table relies on: ``readers=()`` means the metrics
    role cannot even SELECT (checked here on the private tables that exist)."""
    private = [
        t.name
        for t in metadata.sorted_tables
        if t.info["owner"] != "metrics" and "metrics" not in t.info["readers"]
    ]
    assert "survey_outbox" in private
    with owner_engine.connect() as conn:
        for name in private:
            assert (
                conn.execute(
                    text("SELECT has_table_privilege('yardstick_metrics', :t, 'SELECT')"),
                    {"t": name},
                ).scalar()
                is False
            ), name


def test_metrics_has_no_privilege_at_all_on_survey_invitations(owner_engine, database_url):
    """The table holding addresses (encrypted) is invisible to the metrics role: no SELECT,
    no column privilege, and a query as that role fails with insufficient_privilege."""
    with owner_engine.connect() as conn:
        for table in ("survey_invitations", "survey_invitation_tokens", "survey_drafts"):
            for priv in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"):
                assert (
                    conn.execute(
                        text("SELECT has_table_privilege('yardstick_metrics', :t, :p)"),
                        {"t": table, "p": priv},
                    ).scalar()
                    is False
                ), (table, priv)
            assert (
                conn.execute(
                    text("SELECT has_any_column_privilege('yardstick_metrics', :t, 'SELECT')"),
                    {"t": table},
                ).scalar()
                is False
            ), table
    engine = make_engine(database_url, role="metrics", pool_size=1)
    try:
        with pytest.raises(ProgrammingError) as err, engine.connect() as conn:
            conn.execute(text("SELECT address_hash FROM survey_invitations LIMIT 1"))
        assert err.value.orig.sqlstate == "42501"
        with engine.connect() as conn:  # what metrics does need, it can read
            conn.execute(text("SELECT answers FROM survey_responses LIMIT 1"))
            conn.execute(text("SELECT users_in_scope FROM survey_campaigns LIMIT 1"))
    finally:
        engine.dispose()


def test_the_audit_trail_is_append_only_even_for_the_database_owner(owner_engine, clean_db):
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisations (name, type, nation, users) "
                "VALUES ('A', 'L', 'England', 1);"
                "INSERT INTO cycles (year) VALUES (2020);"
                "INSERT INTO submissions (organisation_id, cycle_id, module, created_by) "
                "SELECT o.id, c.id, 'estate', 'x' FROM organisations o, cycles c;"
                "INSERT INTO submission_audit (submission_id, actor, action) "
                "SELECT id, 'x', 'created' FROM submissions"
            )
        )
    for statement in ("UPDATE submission_audit SET actor = 'y'", "DELETE FROM submission_audit"):
        with pytest.raises(ProgrammingError) as err, owner_engine.begin() as conn:
            conn.execute(text(statement))
        assert err.value.orig.sqlstate == "42501"
