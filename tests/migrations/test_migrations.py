"""Upgrade to head, no diff between models and migrations, downgrade one step, upgrade."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import shared.db.tables  # noqa: F401
from shared.db.engine import make_engine
from shared.db.metadata import include_object, metadata
from shared.db.migrate import downgrade, upgrade
from shared.testing.plugin import scratch_database


@pytest.fixture
def scratch_url(database_url):
    with scratch_database(database_url, "ys_mig", None) as url:
        yield url


def _diff(url):
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": include_object,
                },
            )
            return compare_metadata(ctx, metadata)
    finally:
        engine.dispose()


def _current(url):
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_upgrade_matches_models_and_round_trips(scratch_url):
    upgrade(scratch_url)
    head = _current(scratch_url)
    assert _diff(scratch_url) == []
    downgrade(scratch_url, "-1")
    assert _current(scratch_url) != head
    upgrade(scratch_url)
    assert _current(scratch_url) == head
    assert _diff(scratch_url) == []


def test_full_downgrade_to_base_and_back(scratch_url):
    upgrade(scratch_url)
    downgrade(scratch_url, "base")
    assert _current(scratch_url) is None
    upgrade(scratch_url)
    assert _diff(scratch_url) == []
