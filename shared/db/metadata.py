"""The one MetaData of the schema, with a naming convention so constraint names are stable."""

import re

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


# Tables partitioned by organisation hash (migrations 0008 and 0014), and how many partitions each
# has: ``<table>_p00`` ... The partitions are the database's business, not the models':
# comparisons of models and database leave them out (``is_partition``).
PARTITIONS = {"sla_outcomes": 16, "tickets": 16}
PARTITION_BY = "HASH (organisation_id)"
_PARTITION = re.compile(rf"^({'|'.join(PARTITIONS)})_p\d\d$")


def is_partition(table_name: str) -> bool:
    return bool(_PARTITION.match(table_name))


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: partitions (found in the database, absent from the models) are
    not differences, nor the per-partition copies PostgreSQL keeps of a foreign key that
    references a partitioned table."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table":
        return not is_partition(name or "")
    if type_ == "foreign_key_constraint":
        referred = getattr(obj, "referred_table", None)
        return not is_partition(getattr(referred, "name", ""))
    return True
