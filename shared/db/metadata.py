"""The one MetaData of the schema, with a naming convention so constraint names are stable."""

from sqlalchemy import MetaData

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def owned(service: str, *, readers: tuple[str, ...] = ("metrics",)) -> dict[str, object]:
    """Table ``info`` declaring the owning service and which other services may read it.

    The migrations grant exactly this (see ``shared.db.grants``) and a test checks the
    live database against it. A table with ``readers=()`` is private to its owner.
    """
    return {"owner": service, "readers": tuple(r for r in readers if r != service)}
