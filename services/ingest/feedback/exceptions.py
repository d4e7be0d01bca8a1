from __future__ import annotations

from shared.errors import Unprocessable


class UnknownOrganisations(Unprocessable):
    code = "organisation_not_found"
