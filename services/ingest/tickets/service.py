"""Ticket pushes: spool the upload, queue it through the outbox, process it in batches.

Processing (``process_import``) is driven by an outbox event addressed to this service,
so an upload survives a crash of the process that received it; the event is answered 202
at once and the import runs in the app's background executor (``run_import``). Each batch
commits its tickets, row errors and the job's progress together, with a checkpoint (the last source
row done); a restarted job re-reads the file and skips the batches before the
checkpoint. Batches are loaded with COPY into a temp table and one
``INSERT … ON CONFLICT … DO UPDATE … WHERE values differ``, so a second push of the same
export changes nothing. Processing commits per batch (unlike a request, which commits
once) because a several-GB file must show progress and must not be one transaction.
Two batches load at once on two connections, committing in batch order
(``_OrderedLoads``), while a thread parses ahead.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import Session

from services.ingest.organisation_values import repository as value_maps
from services.ingest.tickets import repository as repo
from services.ingest.tickets.exceptions import (
    ImportNotFound,
    InvalidMapping,
    MappingNotFound,
    OrganisationNotFound,
    UnknownProfile,
    UnknownTickets,
)
from services.ingest.tickets.parsing import (
    FileFormatError,
    HistoryFileParser,
    ParsedBatch,
    ParseStats,
    RowIssue,
    TicketFileParser,
)
from services.ingest.tickets.profiles import CANONICAL_FIELDS, PROFILES, Profile, custom_profile
from services.ingest.tickets.schemas import IntervalsReplace, MappingCreate
from shared.auth import Principal
from shared.db.tables.ingest import ingest_outbox
from shared.errors import Forbidden
from shared.events import ImportedMonths, SlaRecompute, TicketImportReceived, TicketsImported
from shared.outbox import enqueue_event
from shared.settings import Settings
from shared.tickets import COLUMN_NAMES, TICKET_KEY

log = logging.getLogger("yardstick.ingest.tickets")

# Canonical headers (the column names Yardstick itself uses): for hand-made files.
YARDSTICK_PROFILE = custom_profile({c: c for c in CANONICAL_FIELDS}, name="yardstick")
READY_PROFILES: dict[str, Profile] = {"yardstick": YARDSTICK_PROFILE, **PROFILES}
# Rows per committed batch: large enough that COPY and the upsert dominate, small
# enough that a batch's frames stay a few tens of MB and progress moves visibly.
IMPORT_BATCH_SIZE = 50_000
# Connections loading batches at once (see _OrderedLoads). Two: the parse thread and two
# PostgreSQL backends keep two CPUs busy; measured in bench/bench_ingest.py.
IMPORT_WRITERS = 2


def spool_dir(settings: Settings) -> Path:
    path = Path(settings.data_dir) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- upload


def pushable_organisations(session: Session, principal: Principal) -> set[int] | None:
    """The organisations ``principal`` may push tickets for (None: any, for admins): its
    own, and the partners of each shared service among them (a shared service's desk
    pushes its partners' tickets)."""
    if principal.is_admin:
        return None
    own = sorted(principal.organisations)
    return set(own) | repo.partners_of(session, own)


def check_upload(
    session: Session,
    principal: Principal,
    organisation_id: int | None,
    profile: str | None,
    mapping_id: int | None,
) -> None:
    """Everything that can be refused before a byte of the file is read."""
    if organisation_id is None:
        if not principal.is_admin and not principal.organisations:
            raise Forbidden("Your credentials are not scoped to any organisation.")
    else:
        principal.require_organisation(organisation_id)
        if not repo.organisation_exists(session, organisation_id):
            raise OrganisationNotFound(organisation_id)
    if mapping_id is not None:
        mapping = repo.get_mapping_by_id(session, mapping_id)
        if mapping is None or not principal.can_see_organisation(mapping["organisation_id"]):
            raise MappingNotFound(mapping_id)
    elif profile not in READY_PROFILES:
        raise UnknownProfile(
            f"Unknown profile {profile!r}; use one of {', '.join(READY_PROFILES)} "
            "or a saved mapping (mapping_id).",
            errors=[{"field": "query.profile", "message": "unknown profile"}],
        )


def create_import(
    session: Session,
    principal: Principal,
    *,
    organisation_id: int | None,
    source_system: str | None,
    profile: str | None,
    mapping_id: int | None,
    file_format: str,
    spool_path: Path,
    size: int,
    content: str = "tickets",
) -> dict[str, Any]:
    if mapping_id is not None:
        mapping = repo.get_mapping_by_id(session, mapping_id)
        profile_name = f"mapping:{mapping['name']}" if mapping else "mapping"
    else:
        profile_name = str(profile)
    job = repo.insert_import(
        session,
        {
            "organisation_id": organisation_id,
            "allowed_organisations": None
            if principal.is_admin
            else sorted(pushable_organisations(session, principal) or ()),
            "content": content,
            "source_system": source_system or profile_name,
            "profile": profile_name,
            "mapping_id": mapping_id,
            "file_format": file_format,
            "bytes_received": size,
            "spool_path": str(spool_path),
            "created_by": principal.subject,
        },
    )
    enqueue_event(session, ingest_outbox, TicketImportReceived(import_id=job["id"]))
    return job


def visible_import(session: Session, principal: Principal, import_id: int) -> dict[str, Any]:
    job = repo.get_import(session, import_id)
    if job is None or not (
        principal.is_admin
        or job["created_by"] == principal.subject
        or (
            job["organisation_id"] is not None and job["organisation_id"] in principal.organisations
        )
    ):
        raise ImportNotFound(import_id)
    return with_figures(session, [job])[0]


def list_imports(
    session: Session, principal: Principal, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    scope = None if principal.is_admin else set(principal.organisations)
    rows, total = repo.list_imports(session, scope, principal.subject, limit, offset)
    return with_figures(session, rows), total


def with_figures(session: Session, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each import with ``computation_run_id`` and ``figures_ready_at``: the SLA run that
    first included it (metrics records it), or, for a finished import that changed
    nothing to recompute, the import's own end."""
    runs = repo.figures_runs(session, [j["id"] for j in jobs if j["status"] == "done"])
    out = []
    for job in jobs:
        run = runs.get(job["id"])
        ready = None
        if run is not None:
            ready = run["figures_ready_at"]
        elif job["status"] == "done" and not job.get("touched_months"):
            ready = job["finished_at"]
        out.append(
            {
                **job,
                "computation_run_id": None if run is None else run["run_id"],
                "figures_ready_at": ready,
            }
        )
    return out


def errors(
    session: Session,
    principal: Principal,
    import_id: int,
    severity: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    visible_import(session, principal, import_id)
    return repo.list_errors(session, import_id, severity, limit, offset)


# ------------------------------------------------------------------------ processing


def _profile_for(session: Session, job: dict[str, Any]) -> Profile:
    if job["mapping_id"] is None:
        if job["profile"] not in READY_PROFILES:
            raise FileFormatError("the custom mapping of this import was deleted before it ran")
        return READY_PROFILES[job["profile"]]
    mapping = repo.get_mapping_by_id(session, job["mapping_id"])
    if mapping is None:
        raise FileFormatError("the custom mapping of this import was deleted before it ran")
    return mapping_profile(mapping)


def mapping_profile(mapping: dict[str, Any]) -> Profile:
    return custom_profile(
        mapping["columns"],
        name=f"mapping:{mapping['name']}",
        priority_map=mapping["priority_map"],
        type_map=mapping["type_map"],
        status_map=mapping["status_map"],
        default_type=mapping["default_type"],
        base=READY_PROFILES.get(mapping["base_profile"] or ""),
    )


def _check_organisations(
    rows: pl.DataFrame, allowed: set[int] | None
) -> tuple[pl.DataFrame, list[RowIssue]]:
    """Reject rows naming an organisation outside the uploader's scope (or unknown)."""
    org = rows["organisation_id"].cast(pl.Int64, strict=False)
    ok = org.is_not_null()
    if allowed is not None:
        ok = ok & org.is_in(list(allowed))
    bad = rows.filter(~ok)
    issues = [
        RowIssue(
            int(r["source_row"]),
            "organisation",
            "organisation_forbidden",
            f"organisation {r['organisation_id']!r} is not one this upload may write "
            "(unknown, or outside your credentials' organisations)",
        )
        for r in bad.select("source_row", "organisation_id").iter_rows(named=True)
    ]
    good = rows.filter(ok).with_columns(pl.col("organisation_id").cast(pl.Int32))
    # From here on the rows carry the table's column names (ticket_ref → reference).
    return good.rename(COLUMN_NAMES), issues


def _value_map(session: Session, job: dict[str, Any]) -> dict[str, str] | None:
    """The organisation value mapping of the upload's organisation and source system
    (value key → organisation id), or None when it has none (ids are read as ids)."""
    if job["organisation_id"] is None:
        return None
    return value_maps.lookup(session, job["organisation_id"], job["source_system"]) or None


_FACTS = ("priority", "request_type", "logged_at")


def _unknown_statuses(
    events: pl.DataFrame, policies: pl.DataFrame
) -> tuple[pl.DataFrame, list[RowIssue]]:
    """Status events whose status the SLA policy of their ticket does not know: the
    policy in force for the ticket's organisation, priority (and request type, as the
    SLA engine chooses it) on its local logged date, when that policy lists known
    statuses (its known and pause statuses are then the ones it knows). ``events`` carry
    their ticket's priority, request_type and logged_at; the ticket's last priority event
    among them, if any, gives the priority instead, as in the engine. (Those events'
    rows, issues.)"""
    checked = policies.filter(pl.col("checked"))
    if checked.height == 0 or events.height == 0:
        return events.clear(), []
    # The priority the engine chooses the policy with: the last priority event's, else
    # the ticket's own.
    key = list(TICKET_KEY)
    last = (
        events.filter((pl.col("kind") == "priority") & pl.col("canonical").is_not_null())
        .sort("at", maintain_order=True)
        .group_by(key)
        .agg(pl.col("canonical").last().alias("_last_priority"))
    )
    status = (
        events.filter(pl.col("kind") == "status")
        .join(last, on=key, how="left")
        .with_columns(pl.coalesce("_last_priority", "priority").alias("priority"))
        .with_row_index("_e")
        .with_columns(
            pl.col("value").str.strip_chars().str.to_lowercase().alias("_status"),
            pl.col("logged_at").dt.convert_time_zone("Europe/London").dt.date().alias("_day"),
            pl.col("organisation_id").cast(pl.Int32).alias("_org"),
        )
    )
    # Every policy (checked or not: one that checks nothing still wins where it applies).
    candidates = status.join(
        policies.rename({"organisation_id": "_org", "priority": "_priority"}).rename(
            {"request_type": "_policy_request_type"}
        ),
        left_on=["_org", "priority"],
        right_on=["_org", "_priority"],
        how="inner",
    ).filter(
        (pl.col("effective_from") <= pl.col("_day"))
        & (
            pl.col("_policy_request_type").is_null()
            | (pl.col("_policy_request_type") == pl.col("request_type"))
        )
    )
    # A policy for the ticket's own request type beats a generic one; then the latest.
    chosen = candidates.sort(
        pl.col("_policy_request_type").is_not_null(), "effective_from", descending=True
    ).unique("_e", keep="first")
    bad = chosen.filter(
        pl.col("checked") & ~pl.col("statuses").list.contains(pl.col("_status"))
    ).sort("_e")
    issues = [
        RowIssue(
            int(r["source_row"]),
            "history",
            "unknown_status",
            f"status event at {r['at'].isoformat()}: status {r['value']!r} is not one the "
            f"SLA policy {r['policy_id']} ({r['priority']}"
            + (f", {r['_policy_request_type']}" if r["_policy_request_type"] else "")
            + f", effective {r['effective_from'].isoformat()}) of organisation "
            f"{r['organisation_id']} knows (its known or pause statuses); add it to that "
            "policy or correct the row",
        )
        for r in bad.iter_rows(named=True)
    ]
    return bad.select(events.columns), issues


def _unknown_stored_statuses(
    session: Session, events: pl.DataFrame, policies: pl.DataFrame
) -> tuple[pl.DataFrame, list[RowIssue]]:
    """``_unknown_statuses`` for a history file's events: their tickets' policies are
    chosen with the tickets as stored (events of unknown tickets are refused later)."""
    if not policies["checked"].any() or events.height == 0:
        return events.clear(), []
    facts = repo.ticket_facts(session, events.select(TICKET_KEY))
    bad, issues = _unknown_statuses(events.join(facts, on=list(TICKET_KEY)), policies)
    return bad.select(events.columns), issues


def _stage_events(events: pl.DataFrame) -> pl.DataFrame:
    """Events keyed by ticket with their order at one instant (``seq``), as staged."""
    key = ["organisation_id", "source_system", "reference", "kind", "at"]
    return (
        events.sort("source_row", "pos")
        .with_columns(pl.int_range(pl.len()).over(key).cast(pl.Int16).alias("seq"))
        .select(repo.EVENT_STAGE_COLUMNS)
    )


def _with_events(
    rows: pl.DataFrame, events: pl.DataFrame | None, policies: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame | None, list[RowIssue]]:
    """The accepted rows' history events, staged; a row whose history has a status its
    ticket's SLA policy does not know is refused whole (its stored ticket and history
    stay as they were)."""
    if events is None or events.height == 0:
        return rows, None, []
    ev = events.join(
        rows.select("source_row", "organisation_id", "source_system", "reference", *_FACTS),
        on="source_row",
        how="inner",
    )
    bad, issues = _unknown_statuses(ev, policies)
    if issues:
        refused = bad["source_row"].unique().implode()
        rows = rows.filter(~pl.col("source_row").is_in(refused))
        ev = ev.filter(~pl.col("source_row").is_in(refused))
        issues = [
            RowIssue(i.row, i.column, i.code, i.message + "; the row was not stored")
            for i in issues
        ]
    return rows, _stage_events(ev), issues


def _error_rows(import_id: int, issues: list[RowIssue]) -> list[dict[str, Any]]:
    seq: dict[int, int] = {}
    out = []
    for i in issues:
        n = seq.get(i.row, 0)
        seq[i.row] = n + 1
        out.append(
            {
                "import_id": import_id,
                "row_number": i.row,
                "seq": n,
                "column_name": i.column,
                "code": i.code,
                "message": i.message,
                "severity": i.severity,
                "related_row": i.related_row,
            }
        )
    return out


def _lock_key(import_id: int) -> int:
    return zlib.crc32(b"ticket_import") << 20 ^ import_id


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            yield block


@dataclass(frozen=True)
class Prepared:
    """A batch made ready for loading, in the parse thread."""

    rows: pl.DataFrame  # accepted rows, columns as the stage
    org_issues: list[RowIssue]  # rows refused here (organisation, history statuses)
    payload: bytes  # the COPY CSV
    shares_tickets_with_previous: bool  # a ticket also in the batch before (see _OrderedLoads)
    events: pl.DataFrame | None = None  # the rows' histories (repo.EVENT_STAGE_COLUMNS)


def _prefetch(
    parser: TicketFileParser,
    batches: Iterator[ParsedBatch],
    prepare: Callable[[ParsedBatch], Prepared],
    depth: int = 2,
) -> Iterator[tuple[ParsedBatch, ParseStats, Prepared]]:
    """Parse ahead in a thread while the caller loads the previous batch into PostgreSQL.

    Polars and numpy release the GIL and the database work is I/O, so the two overlap.
    Each batch travels with a snapshot of the parser's counts as of that batch, so the
    progress committed with a batch never includes rows parsed ahead of it, and with
    ``prepare(batch)`` (the organisation check and the COPY payload),
    also made ahead.
    """
    q: queue.Queue[tuple[ParsedBatch, ParseStats, Prepared] | BaseException | None]
    q = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                q.put((batch, replace(parser.stats), prepare(batch)))
            q.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    worker = threading.Thread(target=produce, name="ticket-parse", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        worker.join()


class _Turn:
    """Set when a batch has committed (ok) or given up: the next batch's turn to commit."""

    def __init__(self, ok: bool = False) -> None:
        self._done = threading.Event()
        self.ok = ok
        if ok:
            self._done.set()

    def finish(self, ok: bool) -> None:
        self.ok = ok
        self._done.set()

    def wait(self) -> bool:
        self._done.wait()
        return self.ok


@dataclass
class _OrderedLoads:
    """Load batches on ``IMPORT_WRITERS`` connections at once, committing in batch order.

    Batch k is copied and upserted on its own connection while batch k-1 may still be
    loading on another, so two PostgreSQL backends work at once. What stays as with one
    connection:

    - Commits happen strictly in batch order, each with the job's progress and checkpoint
      (the last source row of the batch): after a crash, every row up to the checkpoint is
      stored and nothing after it is, so a resumed job skips exactly the committed batches.
      Counters, errors and touched months are written in that order too.
    - A batch that shares a ticket with the batch before it waits for that batch's commit
      before it starts, so the later row wins and two loads never wait on each other's row
      locks (the only locks they could share; the import's own row is updated only in the
      ordered section, after the previous batch committed).
    - A failed batch makes every later one roll back; ``submit`` and leaving the ``with``
      block raise the first failure, after the loads in flight have finished.
    """

    engine: Engine
    import_id: int
    counts: dict[str, int]  # cumulative, updated in commit order
    touched: repo.Months = field(default_factory=set)
    _pool: ThreadPoolExecutor = field(init=False)
    _sessions: list[Session] = field(init=False)
    _inflight: deque[Future[None]] = field(init=False, default_factory=deque)
    _last: _Turn = field(init=False, default_factory=lambda: _Turn(ok=True))
    _n: int = field(init=False, default=0)  # batches submitted

    def __enter__(self) -> _OrderedLoads:
        self._pool = ThreadPoolExecutor(IMPORT_WRITERS, thread_name_prefix="ticket-load")
        self._sessions = [Session(self.engine) for _ in range(IMPORT_WRITERS)]
        return self

    def submit(
        self,
        prepared: Prepared,
        issues: list[RowIssue],
        progress: dict[str, Any],
        last_row: int,
    ) -> None:
        if len(self._inflight) == IMPORT_WRITERS:  # its connection must be free
            self._inflight.popleft().result()
        previous, mine = self._last, _Turn()
        session = self._sessions[self._n % IMPORT_WRITERS]
        self._n += 1
        self._last = mine
        self._inflight.append(
            self._pool.submit(
                self._load, session, prepared, issues, progress, last_row, previous, mine
            )
        )

    def _load(
        self,
        session: Session,
        prepared: Prepared,
        issues: list[RowIssue],
        progress: dict[str, Any],
        last_row: int,
        previous: _Turn,
        mine: _Turn,
    ) -> None:
        ok = False
        try:
            if prepared.shares_tickets_with_previous and not previous.wait():
                return
            inserted, updated, changed_months = repo.upsert_batch(
                session,
                prepared.rows,
                self.import_id,
                payload=prepared.payload,
            )
            if prepared.events is not None and prepared.events.height:
                # The parser checked each history against its row, so the database's
                # checks find nothing here; anything they did find is said, not lost.
                _stored, refused, event_months = repo.replace_events(
                    session, prepared.events, self.import_id
                )
                changed_months = changed_months | event_months
                issues = sorted(
                    [
                        *issues,
                        *(
                            RowIssue(r, "history", code, f"{msg}; the event was not stored",
                                     "warning")
                            for r, code, msg in refused
                        ),
                    ],
                    key=lambda i: i.row,
                )  # fmt: skip
            if not previous.wait():
                return  # an earlier batch failed: its error is the one reported
            # The ordered section: one batch at a time, in batch order.
            self.touched |= changed_months
            counts = self.counts
            counts["rows_inserted"] += inserted
            counts["rows_updated"] += updated
            counts["rows_unchanged"] += prepared.rows.height - inserted - updated
            counts["warnings"] += sum(1 for i in issues if i.severity == "warning")
            repo.insert_errors(session, _error_rows(self.import_id, issues))
            repo.update_import(
                session, self.import_id, {**progress, **counts, "checkpoint_row": last_row}
            )
            # Durable commit per batch. Tried: synchronous_commit = off for the batch
            # transactions (safe, since the checkpoint commits with the batch), but the
            # 20 commits of a 1M-row file take ~0.16 s of ~14 s: no measurable gain.
            session.commit()
            ok = True
        finally:
            if not ok:
                session.rollback()
            mine.finish(ok)

    def __exit__(self, *exc: object) -> None:
        try:
            while self._inflight:  # every load in flight finishes; the first failure raises
                self._inflight.popleft().result()
        finally:
            self._pool.shutdown()
            for session in self._sessions:
                session.close()


# SQLSTATE classes worth retrying: connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention
# (shutdown, cancel), system error.
_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


def _is_transient(exc: BaseException) -> bool:
    """True when retrying later may succeed (the database away or busy), so the job is
    left to the outbox's retries and the watchdog; anything else would fail the same way
    again and ends the job ``failed``. Decided by exception class and SQLSTATE."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, SATimeoutError | psycopg.OperationalError | psycopg.InterfaceError):
            state = getattr(e, "sqlstate", None)
            if state is None or state[:2] in _TRANSIENT_CLASSES:
                return True
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state[:2] in _TRANSIENT_CLASSES:
            return True
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return False


def _stored_note(checkpoint: int) -> str:
    if checkpoint > 1:
        return f"The rows up to row {checkpoint} that passed the checks are stored."
    return "No rows were stored."


def _fail(session: Session, job: dict[str, Any], reason: str) -> dict[str, Any]:
    session.rollback()
    repo.update_import(
        session,
        job["id"],
        {"status": "failed", "failure": reason, "finished_at": datetime.now(UTC)},
    )
    session.commit()
    _remove(job["spool_path"])
    return {"import_id": job["id"], "status": "failed"}


def accept_import(session: Session, import_id: int) -> str | None:
    """The status of an import a process event names when it is already over
    (``done``, ``failed``, or ``missing`` once deleted with its organisation); None when
    it still needs processing (``queued`` or ``processing``)."""
    job = repo.get_import(session, import_id)
    if job is None:
        return "missing"
    status: str = job["status"]
    return status if status in ("done", "failed") else None


def run_import(engine: Engine, settings: Settings, import_id: int) -> None:
    """``process_import`` as background work (the event that asked for it has already
    been answered 202). A transient error queues the process event again, through the
    outbox and its backoff, while the import has been started fewer than
    ``ticket_import_max_attempts`` times; past that (or when even that fails) the
    watchdog (``resume_stalled_imports``) fails the stalled job with a reason."""
    try:
        process_import(engine, import_id)
    except Exception as exc:
        if not _is_transient(exc):
            raise
        log.warning("ticket import %s stopped on a transient error: %s", import_id, exc)
        event = TicketImportReceived(import_id=import_id, resumed=True)
        with Session(engine) as session:
            attempts, waiting = repo.process_events(session, ingest_outbox, event.path())
            if waiting or attempts >= settings.ticket_import_max_attempts:
                return
            enqueue_event(session, ingest_outbox, event)
            session.commit()


def process_import(engine: Engine, import_id: int) -> dict[str, Any]:
    """Run (or resume) one import to completion; safe to call again at any time.

    Every outcome but a transient one (see ``_is_transient``) ends the job ``done`` or
    ``failed`` with a reason; a transient error is raised (``run_import`` queues the event
    again), and the watchdog
    (``resume_stalled_imports``) resumes or fails a job whose retries stopped.
    """
    # The lock is transaction-scoped, held by a transaction left open on its own connection
    # for the whole run: a session-level lock would outlive the run on a pooled server
    # connection behind PgBouncer in transaction mode (and block a later run of the same
    # import there), while an open transaction keeps its server connection until it ends.
    with engine.connect() as lock_conn, lock_conn.begin():
        got = lock_conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_key(import_id)}
        ).scalar_one()
        if not got:
            return {"import_id": import_id, "status": "processing", "note": "already running"}
        try:
            return _process(engine, import_id)
        except ImportNotFound:
            # Deleted with its organisation: nothing to do, and nothing to retry.
            return {"import_id": import_id, "status": "missing"}


def _finish(
    session: Session,
    import_id: int,
    job: dict[str, Any],
    fields: dict[str, Any],
    months: dict[int, list[str]],
) -> dict[str, Any]:
    """End an import ``done`` (a ticket file or a history file): its counts and touched
    months stored, a ``tickets.imported`` event queued when any month changed, the spool
    file removed after the commit."""
    repo.update_import(
        session,
        import_id,
        {
            **fields,
            "status": "done",
            "finished_at": datetime.now(UTC),
            "touched_months": {str(k): v for k, v in months.items()},
        },
    )
    if months:
        enqueue_event(
            session,
            ingest_outbox,
            TicketsImported(
                import_id=import_id,
                organisations=[
                    ImportedMonths(organisation_id=org, months=m) for org, m in months.items()
                ],
            ),
        )
    session.commit()
    _remove(job["spool_path"])
    return {"import_id": import_id, "status": "done"}


def _process(engine: Engine, import_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        job = repo.get_import(session, import_id)
        if job is None:
            raise ImportNotFound(import_id)
        if job["status"] in ("done", "failed"):
            return {"import_id": import_id, "status": job["status"]}
        repo.update_import(
            session,
            import_id,
            {"status": "processing", "started_at": job["started_at"] or datetime.now(UTC)},
        )
        session.commit()
        if job["content"] == "history":
            session.commit()
            return _process_history(engine, job)
        try:
            profile = _profile_for(session, job)
            parser = TicketFileParser(
                profile,
                source_system=job["source_system"],
                organisation_id=None
                if job["organisation_id"] is None
                else str(job["organisation_id"]),
                file_format=job["file_format"],
                batch_size=IMPORT_BATCH_SIZE,
                organisation_values=_value_map(session, job),
            )
            policies = repo.status_policies(session)
            allowed = (
                set(job["allowed_organisations"])
                if job["allowed_organisations"] is not None
                else repo.organisation_ids(session)
            )
            if job["allowed_organisations"] is not None:
                allowed &= repo.organisation_ids(session)
            path = Path(job["spool_path"] or "")
            if not path.is_file():
                raise FileFormatError("the uploaded file is no longer on the server")
            counts = {
                k: job[k] for k in ("rows_inserted", "rows_updated", "rows_unchanged", "warnings")
            }
            extra_rejected = 0
            checkpoint = job["checkpoint_row"]
            # Months of the rows inserted or changed, collected batch by batch. A resumed
            # job did not see its earlier batches, so it scans for them at the end.
            resumed = checkpoint > 0
            session.commit()  # ends the reads above; the loads commit on their own connections
            previous_keys: list[pl.DataFrame] = []

            def prepare(batch: ParsedBatch) -> Prepared:
                rows, org_issues = _check_organisations(batch.rows, allowed)
                rows, events, status_issues = _with_events(rows, batch.events, policies)
                org_issues += status_issues
                keys = rows.select(list(TICKET_KEY))
                shared = bool(previous_keys) and (
                    keys.join(previous_keys[0], on=list(TICKET_KEY), how="semi").height > 0
                )
                previous_keys[:] = [keys]
                return Prepared(
                    rows,
                    org_issues,
                    repo.copy_payload(rows),
                    shared,
                    events,
                )

            loads = _OrderedLoads(engine, import_id, counts)
            with loads:
                batches = _prefetch(parser, parser.parse(_read(path)), prepare)
                for batch, stats, prepared in batches:
                    extra_rejected += len(prepared.org_issues)
                    issues = sorted([*batch.issues, *prepared.org_issues], key=lambda i: i.row)
                    last_row = max(
                        0,
                        int(batch.rows["source_row"].max() or 0),  # type: ignore[arg-type]
                        *(i.row for i in batch.issues),
                    )
                    if last_row <= checkpoint:
                        continue  # committed before a restart
                    progress = {
                        "rows_read": stats.rows_read,
                        "rows_accepted": stats.rows_accepted - extra_rejected,
                        "rows_rejected": stats.rows_rejected + extra_rejected,
                        "duplicates_merged": stats.duplicates_merged,
                    }
                    loads.submit(prepared, issues, progress, last_row)
            touched = loads.touched
            stats = parser.stats
            final = {
                "rows_read": stats.rows_read,
                "rows_accepted": stats.rows_accepted - extra_rejected,
                "rows_rejected": stats.rows_rejected + extra_rejected,
                "duplicates_merged": stats.duplicates_merged,
                "replaced_characters": stats.replaced_characters,
                "encoding": stats.encoding,
            }
        except FileFormatError as exc:
            session.rollback()
            now = repo.get_import(session, import_id) or job
            note = "" if now["checkpoint_row"] == 0 else " " + _stored_note(now["checkpoint_row"])
            return _fail(session, job, f"{exc}{note}")
        except Exception as exc:
            if _is_transient(exc):
                raise  # the outbox retries; the job resumes from its checkpoint
            log.exception("ticket import %s failed", import_id)
            session.rollback()
            now = repo.get_import(session, import_id) or job
            first_line = (str(exc).strip().splitlines() or [""])[0][:200]
            return _fail(
                session,
                job,
                f"Processing stopped on an error on our side ({type(exc).__name__}: "
                f"{first_line}). {_stored_note(now['checkpoint_row'])} Push the file again; "
                f"if it stops the same way, send it to support quoting import {import_id}.",
            )
        months = repo.touched_months(session, import_id) if resumed else _by_organisation(touched)
        return _finish(session, import_id, job, {**final, **counts}, months)


def _process_history(engine: Engine, job: dict[str, Any]) -> dict[str, Any]:
    """A history file (``content = history``): events of stored tickets, batch by batch,
    each batch committed with its row errors and the job's checkpoint. Each ticket named
    gets the file's events in place of its stored history."""
    import_id = job["id"]
    with Session(engine) as session:
        try:
            parser = HistoryFileParser(
                _profile_for(session, job),
                source_system=job["source_system"],
                organisation_id=None
                if job["organisation_id"] is None
                else str(job["organisation_id"]),
                file_format=job["file_format"],
                batch_size=IMPORT_BATCH_SIZE,
                organisation_values=_value_map(session, job),
            )
            allowed = repo.organisation_ids(session)
            if job["allowed_organisations"] is not None:
                allowed &= set(job["allowed_organisations"])
            policies = repo.status_policies(session)
            path = Path(job["spool_path"] or "")
            if not path.is_file():
                raise FileFormatError("the uploaded file is no longer on the server")
            counts = {k: job[k] for k in ("rows_inserted", "warnings")}
            checkpoint = job["checkpoint_row"]
            refused_rows = 0
            session.commit()
            for batch in parser.parse(_read(path)):
                rows, issues = _check_organisations(batch.rows, allowed)
                rows = rows.with_columns(pl.lit(job["source_system"]).alias("source_system"))
                bad, status_issues = _unknown_stored_statuses(session, rows, policies)
                rows = rows.join(bad.select("source_row"), on="source_row", how="anti")
                last_row = max(
                    0,
                    int(batch.rows["source_row"].max() or 0),  # type: ignore[arg-type]
                    *(i.row for i in batch.issues),
                )
                refused_rows += len(issues) + len(status_issues)
                if last_row <= checkpoint:
                    continue  # committed before a restart
                stored, refused, _months = repo.replace_events(
                    session, _stage_events(rows), import_id
                )
                refused_rows += len({r for r, _c, _m in refused})
                counts["rows_inserted"] += stored
                everything = [
                    *batch.issues,
                    *issues,
                    *status_issues,
                    *(RowIssue(r, "history", code, msg) for r, code, msg in refused),
                ]
                counts["warnings"] += sum(1 for i in everything if i.severity == "warning")
                repo.insert_errors(
                    session, _error_rows(import_id, sorted(everything, key=lambda i: i.row))
                )
                stats = parser.stats
                repo.update_import(
                    session,
                    import_id,
                    {
                        "rows_read": stats.rows_read,
                        "rows_accepted": stats.rows_accepted - refused_rows,
                        "rows_rejected": stats.rows_rejected + refused_rows,
                        **counts,
                        "checkpoint_row": last_row,
                    },
                )
                session.commit()
        except FileFormatError as exc:
            return _fail(session, job, str(exc))
        except Exception as exc:
            if _is_transient(exc):
                raise
            log.exception("history import %s failed", import_id)
            session.rollback()
            first_line = (str(exc).strip().splitlines() or [""])[0][:200]
            return _fail(
                session,
                job,
                f"Processing stopped on an error on our side ({type(exc).__name__}: "
                f"{first_line}). Push the file again; if it stops the same way, send it to "
                f"support quoting import {import_id}.",
            )
        months = repo.history_months(session, import_id)
        stats = parser.stats
        return _finish(
            session,
            import_id,
            job,
            {
                "rows_read": stats.rows_read,
                "rows_accepted": stats.rows_accepted - refused_rows,
                "rows_rejected": stats.rows_rejected + refused_rows,
                "encoding": stats.encoding,
                "replaced_characters": stats.replaced_characters,
                **counts,
            },
            months,
        )


def resume_stalled_imports(session: Session, settings: Settings) -> dict[str, list[int]]:
    """The watchdog: an import ``queued`` or ``processing`` with no progress for
    ``ticket_import_stale_minutes`` and no process working on it is queued again, or
    failed with a reason once it has been started ``ticket_import_max_attempts`` times.

    Idempotent and safe beside running imports: a job whose advisory lock is held is
    being processed (its process holds the lock until it ends or its connection drops),
    and one with a process event still waiting in the outbox is left to the outbox.
    Progress is ``updated_at``, which each committed batch moves.
    """
    stale_before = datetime.now(UTC) - timedelta(minutes=settings.ticket_import_stale_minutes)
    requeued: list[int] = []
    failed: list[int] = []
    for job in repo.stalled_imports(session, stale_before):
        if not repo.try_xact_lock(session, _lock_key(job["id"])):
            continue  # being processed right now
        event = TicketImportReceived(import_id=job["id"], resumed=True)
        path = event.path()
        attempts, waiting = repo.process_events(session, ingest_outbox, path)
        if waiting:
            continue
        if attempts < settings.ticket_import_max_attempts:
            enqueue_event(session, ingest_outbox, event)
            repo.update_import(session, job["id"], {})  # progress clock restarts
            log.warning(
                "ticket import %s stalled; queued again (attempt %s)", job["id"], attempts + 1
            )
            requeued.append(job["id"])
            continue
        since = job["updated_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        repo.update_import(
            session,
            job["id"],
            {
                "status": "failed",
                "finished_at": datetime.now(UTC),
                "failure": f"Processing stopped and did not resume: no progress since {since} "
                f"UTC after {attempts} attempt(s). {_stored_note(job['checkpoint_row'])} Push "
                f"the file again; if it stops again, send it to support quoting import "
                f"{job['id']}.",
            },
        )
        _remove(job["spool_path"])
        log.warning("ticket import %s stalled after %s attempts; failed", job["id"], attempts)
        failed.append(job["id"])
    return {"requeued": requeued, "failed": failed}


def _by_organisation(pairs: repo.Months) -> dict[int, list[str]]:
    """{(organisation, month)} → organisation → sorted months, as ``repo.touched_months``."""
    out: dict[int, list[str]] = {}
    for org, month in sorted(pairs):
        out.setdefault(org, []).append(month)
    return out


def _remove(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


# ------------------------------------------------------------------------ intervals


def replace_intervals(
    session: Session, principal: Principal, body: IntervalsReplace
) -> dict[str, int]:
    principal.require_organisation(body.organisation_id)
    references = sorted({i.reference for i in body.intervals})
    known = repo.existing_references(session, body.organisation_id, body.source_system, references)
    missing = [r for r in references if r not in known]
    if missing:
        raise UnknownTickets(
            f"{len(missing)} reference(s) are not stored tickets of organisation "
            f"{body.organisation_id} from {body.source_system!r}; push the tickets first.",
            errors=[
                {"field": f"intervals.{n}.reference", "message": f"unknown ticket {i.reference!r}"}
                for n, i in enumerate(body.intervals)
                if i.reference in set(missing)
            ][:100],
        )
    bad = [
        {"field": f"intervals.{n}.end", "message": "end is before start"}
        for n, i in enumerate(body.intervals)
        if i.end is not None and i.end < i.start
    ]
    if bad:
        raise UnknownTickets(
            "Some intervals end before they start.", code="invalid_interval", errors=bad[:100]
        )
    rows = [
        {
            "organisation_id": body.organisation_id,
            "source_system": body.source_system,
            "reference": i.reference,
            "kind": i.kind,
            "start_at": i.start,
            "end_at": i.end,
        }
        for i in body.intervals
    ]
    # Duplicate (reference, kind, start) in one request: the last one wins.
    unique = {(r["reference"], r["kind"], r["start_at"]): r for r in rows}
    repo.replace_intervals(
        session, body.organisation_id, body.source_system, references, list(unique.values())
    )
    enqueue_event(
        session,
        ingest_outbox,
        SlaRecompute(organisation_id=body.organisation_id, reason="intervals"),
    )
    return {"tickets": len(references), "intervals": len(unique)}


# ------------------------------------------------------------------------- mappings


def create_mapping(
    session: Session, principal: Principal, organisation_id: int, body: MappingCreate
) -> dict[str, Any]:
    principal.require_organisation(organisation_id)
    if not repo.organisation_exists(session, organisation_id):
        raise OrganisationNotFound(organisation_id)
    if body.base_profile is not None and body.base_profile not in READY_PROFILES:
        raise InvalidMapping(
            f"Unknown base_profile {body.base_profile!r}; use one of {', '.join(READY_PROFILES)}.",
            errors=[{"field": "base_profile", "message": "unknown profile"}],
        )
    values = {"organisation_id": organisation_id, **body.model_dump()}
    mapping_profile({**values, "name": body.name})  # validates the combination
    if body.base_profile is None and "ticket_ref" not in body.columns.values():
        raise InvalidMapping(
            "A mapping without a base profile must map a column to ticket_ref and logged_at.",
            errors=[{"field": "columns", "message": "needs ticket_ref and logged_at"}],
        )
    if body.base_profile is None and "logged_at" not in body.columns.values():
        raise InvalidMapping(
            "A mapping without a base profile must map a column to logged_at.",
            errors=[{"field": "columns", "message": "needs logged_at"}],
        )
    return repo.insert_mapping(session, values)


def list_mappings(
    session: Session, principal: Principal, organisation_id: int
) -> list[dict[str, Any]]:
    principal.require_organisation(organisation_id)
    return repo.list_mappings(session, organisation_id)


def get_mapping(
    session: Session, principal: Principal, organisation_id: int, mapping_id: int
) -> dict[str, Any]:
    principal.require_organisation(organisation_id)
    row = repo.get_mapping(session, organisation_id, mapping_id)
    if row is None:
        raise MappingNotFound(mapping_id)
    return row


def delete_mapping(
    session: Session, principal: Principal, organisation_id: int, mapping_id: int
) -> None:
    principal.require_organisation(organisation_id)
    if not repo.delete_mapping(session, organisation_id, mapping_id):
        raise MappingNotFound(mapping_id)
