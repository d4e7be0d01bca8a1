"""A shared service with three partner councils and an organisation that is neither."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import make_org


@dataclass
class Shared:
    api: Any
    service: int
    partners: list[int]
    other: int

    @property
    def staff(self) -> dict[str, str]:
        """The service's own staff: participants of the service."""
        return self.api.auth("participant", [self.service])

    @property
    def partner(self) -> dict[str, str]:
        return self.api.auth("participant", [self.partners[0]])

    @property
    def outsider(self) -> dict[str, str]:
        return self.api.auth("participant", [self.other])

    @property
    def admin(self) -> dict[str, str]:
        return self.api.auth("admin")

    def path(self, rest: str) -> str:
        return f"/api/v1/organisations/{self.service}/{rest}"


@pytest.fixture
def shared(api) -> Shared:
    service = make_org(api, name="Shared ICT Service", type="O", partnership=True)["id"]
    partners = [
        make_org(api, name=f"London Borough of {n}")["id"]
        for n in ("Brent", "Lewisham", "Southwark")
    ]
    other = make_org(api, name="London Borough of Camden")["id"]
    r = api.ingest.put(
        f"/api/v1/organisations/{service}/partners",
        json={"partner_ids": partners},
        headers=api.auth("admin"),
    )
    assert r.status_code == 200, r.text
    return Shared(api, service, partners, other)
