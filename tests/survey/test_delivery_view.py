"""The adjusted response rate needs how many invitations could not be delivered; metrics
reads that count through the survey service's view, never the invitations table."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from shared.db.engine import make_engine
from tests.survey.conftest import make_campaign, staff, upload


def test_metrics_reads_delivery_counts_but_no_invitation(api, database_url):
    campaign = make_campaign(api)
    addresses = [f"x{i}@council.gov.uk" for i in range(4)]
    assert upload(api, campaign, addresses).status_code == 200
    api.survey.post(
        f"/api/v1/campaigns/{campaign['id']}/bounces",
        json={"addresses": addresses[:1]},
        headers=staff(api, campaign),
    )
    engine = make_engine(database_url, role="metrics", pool_size=1)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT invitations, undeliverable FROM survey_campaign_delivery")
            ).one()
            assert tuple(row) == (4, 1)
        with pytest.raises(ProgrammingError) as err, engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM survey_invitations"))
        assert err.value.orig.sqlstate == "42501"  # insufficient_privilege
    finally:
        engine.dispose()
