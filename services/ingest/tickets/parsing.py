"""Streaming parser for ticket exports (CSV or JSON lines) into canonical rows.

Pure: bytes in, Polars batches and row issues out. Memory stays bounded by the batch
size (default 10 000 rows) plus one small entry per distinct ticket reference, kept to
detect duplicates across batches.

Encoding (CSV and JSON lines)
-----------------------------
* A UTF-8 byte-order mark → UTF-8 (the BOM is dropped).
* Otherwise bytes are decoded as UTF-8 incrementally, chunk by chunk. While every byte
  seen so far is ASCII, UTF-8 and Windows-1252 agree, so the decision is deferred: at the
  first chunk containing non-ASCII bytes, if that chunk is not valid UTF-8 the whole file
  is taken as Windows-1252 from there on (which is exactly what decoding the whole file as
  Windows-1252 would give, because everything before was ASCII). Nothing is re-read, so
  a several-GB upload streams once.
* If non-ASCII UTF-8 was already accepted and an invalid sequence turns up later, the
  file is mixed: the bad bytes become U+FFFD and ``ParseStats.replaced_characters``
  counts them (the import report should say so).

Dates
-----
dd/mm/yyyy HH:MM[:SS] (UK), ISO 8601 with or without seconds/fraction, with an offset or
Z (→ UTC) or without (→ Europe/London local), plus a profile's extra formats. Naive local
times: in the spring-forward gap the time moves forward by the gap (01:30 on 28/03/2021
→ 02:30 BST = 01:30 UTC) and ``flag_dst_gap`` is set; in the autumn overlap the first
(BST) occurrence is taken and ``flag_dst_ambiguous`` is set. Both are warnings, never
rejections. Done vectorised with Polars (``replace_time_zone`` gives null for a
nonexistent time; the shift is computed from the offset in force a day earlier).

Row validation
--------------
Rejected (error): missing reference; missing organisation (no column value and no
upload organisation); unknown priority (a value not in the profile's map); unknown type;
missing or unparseable logged date; unparseable resolved/closed date; a duplicate
reference (same organisation) whose values conflict with an earlier row — the later row
is rejected and the error names both rows. Identical duplicates are merged silently and
counted in ``ParseStats.duplicates_merged``.
Kept with a warning: no priority (the SLA engine lists it under data quality);
resolved before logged (kept so the engine puts it on the data-quality list, flagged
``flag_resolved_before_logged``); DST gap/overlap; unreadable reopen count, first-contact
flag or rating (set to null).

Row numbers are as a spreadsheet shows them: CSV header = row 1, first record = row 2
(a quoted field spanning lines still counts as one row); JSON lines: line number.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import polars as pl

from services.ingest.tickets.profiles import CANONICAL_FIELDS, Profile

LONDON = "Europe/London"
DEFAULT_BATCH_SIZE = 10_000
READ_CHUNK = 1 << 20

_DT = pl.Datetime("us", "UTC")

CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "organisation_id": pl.Utf8(),
    "source_system": pl.Utf8(),
    "ticket_ref": pl.Utf8(),
    "type": pl.Utf8(),
    "priority": pl.Utf8(),
    "request_type": pl.Utf8(),
    "team": pl.Utf8(),
    "closure_category": pl.Utf8(),
    "logged_at": _DT,
    "resolved_at": _DT,
    "closed_at": _DT,
    "status": pl.Utf8(),
    "reopen_count": pl.Int32(),
    "resolved_first_contact": pl.Boolean(),
    "nps_rating": pl.Int8(),
    "source_row": pl.Int64(),
    "flag_dst_gap": pl.Boolean(),
    "flag_dst_ambiguous": pl.Boolean(),
    "flag_resolved_before_logged": pl.Boolean(),
}

NAIVE_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
)
AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class RowIssue:
    row: int
    column: str | None
    code: str
    message: str
    severity: Literal["error", "warning"] = "error"
    related_row: int | None = None


@dataclass
class ParsedBatch:
    """Accepted rows (``CANONICAL_SCHEMA``) and the issues found in this batch."""

    rows: pl.DataFrame
    issues: list[RowIssue]

    @property
    def errors(self) -> list[RowIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[RowIssue]:
        return [i for i in self.issues if i.severity == "warning"]


@dataclass
class ParseStats:
    encoding: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    duplicates_merged: int = 0
    replaced_characters: int = 0


class FileFormatError(ValueError):
    """The file as a whole cannot be read (e.g. required columns missing)."""


# --------------------------------------------------------------------------- decoding


class StreamDecoder:
    """Incremental bytes → text with BOM / UTF-8 / Windows-1252 detection (see module)."""

    def __init__(self) -> None:
        self.encoding: str | None = None  # decided: "utf-8-sig", "utf-8" or "cp1252"
        self.replaced = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._cp1252 = codecs.getincrementaldecoder("cp1252")(errors="replace")
        self._head = b""
        self._started = False

    def decode(self, chunk: bytes, final: bool = False) -> str:
        if not self._started:
            self._head += chunk
            if len(self._head) < 3 and not final:
                return ""
            chunk, self._head = self._head, b""
            self._started = True
            if chunk.startswith(codecs.BOM_UTF8):
                self.encoding = "utf-8-sig"
                chunk = chunk[len(codecs.BOM_UTF8) :]
        if self.encoding == "cp1252":
            return self._cp1252.decode(chunk, final)
        if self.encoding is None and not chunk.isascii():
            try:
                text = self._utf8.decode(chunk, final)
            except UnicodeDecodeError:
                # Everything before was ASCII, so switching now equals cp1252 throughout.
                self.encoding = "cp1252"
                return self._cp1252.decode(chunk, final)
            self.encoding = "utf-8"
            return text
        try:
            return self._utf8.decode(chunk, final)
        except UnicodeDecodeError:
            state = self._utf8.getstate()
            self._utf8.reset()
            text = (state[0] + chunk).decode("utf-8", errors="replace")
            self.replaced += text.count("\ufffd")
            return text

    def finish(self) -> str:
        text = self.decode(b"", final=True)
        if self.encoding is None:
            self.encoding = "utf-8"  # pure ASCII
        return text


def iter_chunks(source: IO[bytes] | Iterable[bytes], size: int = READ_CHUNK) -> Iterator[bytes]:
    if hasattr(source, "read"):
        while True:
            block = source.read(size)
            if not block:
                return
            yield block
    else:
        yield from source


def iter_text(chunks: Iterable[bytes], decoder: StreamDecoder) -> Iterator[str]:
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.finish()
    if tail:
        yield tail


def iter_lines(texts: Iterable[str]) -> Iterator[str]:
    """Split on \\n only (keeping it), so csv handles \\r\\n and quoted line breaks."""
    buf = ""
    for text in texts:
        buf += text
        parts = buf.split("\n")
        buf = parts.pop()
        for p in parts:
            yield p + "\n"
    if buf:
        yield buf


# --------------------------------------------------------------------------- records


def _norm_header(h: str) -> str:
    return h.strip().lower()


def _resolve_columns(profile: Profile, headers: Iterable[str]) -> dict[str, str]:
    """canonical field → the source header to read (first candidate present)."""
    present = {_norm_header(h): h for h in headers}
    out: dict[str, str] = {}
    for canonical, candidates in profile.columns.items():
        for c in candidates:
            if _norm_header(c) in present:
                out[canonical] = present[_norm_header(c)]
                break
    return out


def _csv_records(
    lines: Iterator[str], profile: Profile, delimiter: str
) -> Iterator[tuple[int, dict[str, str | None]] | RowIssue]:
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    mapping = _resolve_columns(profile, header)
    missing = [c for c in ("ticket_ref", "logged_at") if c not in mapping]
    if missing:
        raise FileFormatError(
            f"no column for {', '.join(missing)} in the header for profile {profile.name!r}"
        )
    index = {canonical: header.index(src) for canonical, src in mapping.items()}
    row = 1
    for record in reader:
        row += 1
        if not record or all(not v.strip() for v in record):
            continue
        if len(record) != len(header):
            yield RowIssue(
                row,
                None,
                "column_count",
                f"{len(record)} fields where the header has {len(header)}",
            )
            continue
        yield row, {c: record[i] for c, i in index.items()}


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, key + ".")
        else:
            out[key] = v
    return out


def _jsonl_records(
    lines: Iterator[str], profile: Profile
) -> Iterator[tuple[int, dict[str, str | None]] | RowIssue]:
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowIssue(n, None, "invalid_json", f"invalid JSON: {exc.msg}")
            continue
        if not isinstance(obj, dict):
            yield RowIssue(n, None, "invalid_json", "a line must hold a JSON object")
            continue
        flat = _flatten(obj)
        mapping = _resolve_columns(profile, flat)
        rec: dict[str, str | None] = {}
        for canonical, src in mapping.items():
            v = flat[src]
            rec[canonical] = None if v is None else (v if isinstance(v, str) else json.dumps(v))
        yield n, rec


# --------------------------------------------------------------------------- dates


def parse_datetimes(raw: pl.Expr, extra_formats: Iterable[str] = ()) -> list[pl.Expr]:
    """Expressions for (value UTC, dst_gap, dst_ambiguous) from a string column.

    Returns aliases ``value``, ``gap``, ``ambiguous``; see the module docstring.
    """
    s = (
        raw.str.strip_chars()
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) (\d)", "${1}T${2}")
    )
    aware = pl.coalesce(
        [s.str.to_datetime(f, time_zone="UTC", strict=False) for f in AWARE_FORMATS]
    ).cast(_DT)
    naive = pl.coalesce(
        [
            s.str.to_datetime(f, strict=False, time_unit="us")
            for f in (*NAIVE_FORMATS, *extra_formats)
        ]
    )
    early = naive.dt.replace_time_zone(LONDON, ambiguous="earliest", non_existent="null")
    late = naive.dt.replace_time_zone(LONDON, ambiguous="latest", non_existent="null")
    day_before = naive - pl.duration(days=1)
    prev_utc = (
        day_before.dt.replace_time_zone(LONDON, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
    # In the gap, local time minus the offset in force before the change.
    shifted = (naive - (day_before - prev_utc)).dt.replace_time_zone("UTC")
    gap = naive.is_not_null() & early.is_null() & aware.is_null()
    local_utc = (
        pl.when(early.is_not_null()).then(early.dt.convert_time_zone("UTC")).otherwise(shifted)
    )
    value = pl.coalesce(aware, local_utc.cast(_DT))
    ambiguous = aware.is_null() & early.is_not_null() & (early != late)
    return [value.alias("value"), gap.alias("gap"), ambiguous.alias("ambiguous")]


# --------------------------------------------------------------------------- batches


def _lookup(raw: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    return raw.str.to_lowercase().replace_strict(
        list(mapping), list(mapping.values()), default=None, return_dtype=pl.Utf8
    )


def _normalise(
    records: list[tuple[int, dict[str, str | None]]],
    profile: Profile,
    organisation_id: str | None,
    source_system: str,
) -> tuple[pl.DataFrame, list[RowIssue]]:
    """Vectorised normalisation and validation of one batch of raw records."""
    data: dict[str, list[Any]] = {c: [] for c in CANONICAL_FIELDS}
    rows: list[int] = []
    for n, rec in records:
        rows.append(n)
        for c in CANONICAL_FIELDS:
            data[c].append(rec.get(c))
    raw = pl.DataFrame(
        {"source_row": rows, **data},
        schema={"source_row": pl.Int64, **{c: pl.Utf8 for c in CANONICAL_FIELDS}},
    ).with_columns(pl.col(c).str.strip_chars().replace("", None) for c in CANONICAL_FIELDS)
    extra = profile.extra_datetime_formats
    date_cols: list[pl.Expr] = []
    for c in ("logged_at", "resolved_at", "closed_at"):
        value, gap, amb = parse_datetimes(pl.col(c), extra)
        date_cols += [value.alias(f"{c}__v"), gap.alias(f"{c}__gap"), amb.alias(f"{c}__amb")]
    type_default = pl.lit(profile.default_type, pl.Utf8)
    df = raw.with_columns(
        *date_cols,
        _lookup(pl.col("priority"), profile.priority_values()).alias("priority__v"),
        pl.when(pl.col("type").is_null())
        .then(type_default)
        .otherwise(_lookup(pl.col("type"), profile.type_values()))
        .alias("type__v"),
        pl.coalesce(
            _lookup(pl.col("status"), profile.status_values()),
            pl.col("status").str.to_lowercase(),
        ).alias("status__v"),
        pl.coalesce(pl.col("organisation"), pl.lit(organisation_id, pl.Utf8)).alias("org__v"),
        pl.col("reopen_count")
        .cast(pl.Float64, strict=False)
        .cast(pl.Int32, strict=False)
        .alias("reopen__v"),
        pl.when(pl.col("resolved_first_contact").str.to_lowercase().is_in(_TRUE))
        .then(True)
        .when(pl.col("resolved_first_contact").str.to_lowercase().is_in(_FALSE))
        .then(False)
        .alias("fcr__v"),
        pl.col("nps_rating").cast(pl.Float64, strict=False).alias("nps__f"),
    )
    # (condition, column, code, message expression, severity)
    checks: list[tuple[pl.Expr, str | None, str, pl.Expr, str]] = [
        (
            pl.col("ticket_ref").is_null(),
            "ticket_ref",
            "missing_reference",
            pl.lit("missing ticket reference"),
            "error",
        ),
        (
            pl.col("org__v").is_null(),
            "organisation",
            "missing_organisation",
            pl.lit("no organisation in the row and none given for the upload"),
            "error",
        ),
        (
            pl.col("priority").is_not_null() & pl.col("priority__v").is_null(),
            "priority",
            "unknown_priority",
            pl.format("unknown priority '{}'", pl.col("priority")),
            "error",
        ),
        (
            pl.col("priority").is_null(),
            "priority",
            "no_priority",
            pl.lit("no priority: the ticket goes to the SLA data-quality list"),
            "warning",
        ),
        (
            pl.col("type__v").is_null(),
            "type",
            "unknown_type",
            pl.format("unknown or missing ticket type '{}'", pl.col("type").fill_null("")),
            "error",
        ),
        (
            pl.col("logged_at").is_null(),
            "logged_at",
            "missing_date",
            pl.lit("missing logged date"),
            "error",
        ),
    ]
    for c in ("logged_at", "resolved_at", "closed_at"):
        checks += [
            (
                pl.col(c).is_not_null() & pl.col(f"{c}__v").is_null(),
                c,
                "unparseable_date",
                pl.format(
                    "cannot read date '{}' (expected dd/mm/yyyy HH:MM[:SS] or ISO 8601)", pl.col(c)
                ),
                "error",
            ),
            (
                pl.col(f"{c}__gap"),
                c,
                "dst_gap",
                pl.format(
                    "'{}' does not exist in UK local time (clocks went forward); "
                    "taken as one hour later",
                    pl.col(c),
                ),
                "warning",
            ),
            (
                pl.col(f"{c}__amb"),
                c,
                "dst_ambiguous",
                pl.format(
                    "'{}' occurs twice in UK local time (clocks went back); "
                    "the first (BST) occurrence was taken",
                    pl.col(c),
                ),
                "warning",
            ),
        ]
    checks += [
        (
            pl.col("resolved_at__v") < pl.col("logged_at__v"),
            "resolved_at",
            "resolved_before_logged",
            pl.lit("resolved before logged: kept for the SLA data-quality list"),
            "warning",
        ),
        (
            pl.col("reopen_count").is_not_null() & pl.col("reopen__v").is_null(),
            "reopen_count",
            "bad_number",
            pl.format("cannot read reopen count '{}'", pl.col("reopen_count")),
            "warning",
        ),
        (
            pl.col("resolved_first_contact").is_not_null() & pl.col("fcr__v").is_null(),
            "resolved_first_contact",
            "bad_boolean",
            pl.format("cannot read yes/no value '{}'", pl.col("resolved_first_contact")),
            "warning",
        ),
        (
            pl.col("nps_rating").is_not_null()
            & ~(pl.col("nps__f").is_between(0, 10) & (pl.col("nps__f") % 1 == 0)).fill_null(False),
            "nps_rating",
            "bad_rating",
            pl.format("rating '{}' is not a whole number 0-10", pl.col("nps_rating")),
            "warning",
        ),
    ]
    issue_frames = []
    for i, (cond, col, code, msg, sev) in enumerate(checks):
        issue_frames.append(
            df.filter(cond.fill_null(False)).select(
                "source_row",
                pl.lit(i, pl.Int32).alias("check"),
                pl.lit(col, pl.Utf8).alias("column"),
                pl.lit(code).alias("code"),
                msg.cast(pl.Utf8).alias("message"),
                pl.lit(sev).alias("severity"),
            )
        )
    issues_df = pl.concat(issue_frames).sort("source_row", "check")
    issues = [
        RowIssue(r["source_row"], r["column"], r["code"], r["message"], r["severity"])
        for r in issues_df.iter_rows(named=True)
    ]
    rejected = set(issues_df.filter(pl.col("severity") == "error")["source_row"].to_list())
    ok = df.filter(~pl.col("source_row").is_in(list(rejected)))
    out = ok.select(
        pl.col("org__v").alias("organisation_id"),
        pl.lit(source_system, pl.Utf8).alias("source_system"),
        "ticket_ref",
        pl.col("type__v").alias("type"),
        pl.col("priority__v").alias("priority"),
        "request_type",
        "team",
        "closure_category",
        pl.col("logged_at__v").alias("logged_at"),
        pl.col("resolved_at__v").alias("resolved_at"),
        pl.col("closed_at__v").alias("closed_at"),
        pl.col("status__v").alias("status"),
        pl.col("reopen__v").alias("reopen_count"),
        pl.col("fcr__v").alias("resolved_first_contact"),
        pl.when(pl.col("nps__f").is_between(0, 10) & (pl.col("nps__f") % 1 == 0))
        .then(pl.col("nps__f"))
        .cast(pl.Int8)
        .alias("nps_rating"),
        "source_row",
        pl.any_horizontal("logged_at__gap", "resolved_at__gap", "closed_at__gap").alias(
            "flag_dst_gap"
        ),
        pl.any_horizontal("logged_at__amb", "resolved_at__amb", "closed_at__amb").alias(
            "flag_dst_ambiguous"
        ),
        (pl.col("resolved_at__v") < pl.col("logged_at__v"))
        .fill_null(False)
        .alias("flag_resolved_before_logged"),
    )
    return out.cast(CANONICAL_SCHEMA), issues  # type: ignore[arg-type]


_VALUE_COLUMNS = [c for c in CANONICAL_SCHEMA if c != "source_row"]


class TicketFileParser:
    """Parse one uploaded file in batches.

    ``for batch in parser.parse(stream): ...`` then read ``parser.stats``. Duplicate
    detection spans batches (it keeps, per distinct organisation+reference, the first
    row number and a hash of its values).
    """

    def __init__(
        self,
        profile: Profile,
        *,
        source_system: str | None = None,
        organisation_id: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        file_format: Literal["csv", "jsonl"] = "csv",
        delimiter: str = ",",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.profile = profile
        self.source_system = source_system or profile.name
        self.organisation_id = organisation_id
        self.batch_size = batch_size
        self.file_format = file_format
        self.delimiter = delimiter
        self.stats = ParseStats()
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}

    def parse(self, source: IO[bytes] | Iterable[bytes]) -> Iterator[ParsedBatch]:
        decoder = StreamDecoder()
        lines = iter_lines(iter_text(iter_chunks(source), decoder))
        records = (
            _csv_records(lines, self.profile, self.delimiter)
            if self.file_format == "csv"
            else _jsonl_records(lines, self.profile)
        )
        pending: list[tuple[int, dict[str, str | None]]] = []
        early_issues: list[RowIssue] = []
        for item in records:
            if isinstance(item, RowIssue):
                early_issues.append(item)
                self.stats.rows_read += 1
                self.stats.rows_rejected += 1
                continue
            pending.append(item)
            if len(pending) >= self.batch_size:
                yield self._batch(pending, early_issues)
                pending, early_issues = [], []
        if pending or early_issues:
            yield self._batch(pending, early_issues)
        self.stats.encoding = decoder.encoding
        self.stats.replaced_characters = decoder.replaced

    def _batch(
        self, records: list[tuple[int, dict[str, str | None]]], early: list[RowIssue]
    ) -> ParsedBatch:
        self.stats.rows_read += len(records)
        if not records:
            return ParsedBatch(pl.DataFrame(schema=CANONICAL_SCHEMA), early)
        rows, issues = _normalise(records, self.profile, self.organisation_id, self.source_system)
        hashes = rows.select(pl.struct(_VALUE_COLUMNS).hash(seed=0)).to_series().to_list()
        keep: list[bool] = []
        for org, ref, n, h in zip(
            rows["organisation_id"],
            rows["ticket_ref"],
            rows["source_row"],
            hashes,
            strict=True,
        ):
            key = (org, ref)
            first = self._seen.get(key)
            if first is None:
                self._seen[key] = (n, h)
                keep.append(True)
            elif first[1] == h:
                self.stats.duplicates_merged += 1
                keep.append(False)
            else:
                issues.append(
                    RowIssue(
                        n,
                        "ticket_ref",
                        "duplicate_conflict",
                        f"reference {ref!r} already appears in row {first[0]} with "
                        f"different values; rows {first[0]} and {n} conflict, row {n} "
                        "was rejected",
                        related_row=first[0],
                    )
                )
                keep.append(False)
                self.stats.rows_rejected += 1
        rejected_rows = len(records) - rows.height
        self.stats.rows_rejected += rejected_rows
        rows = rows.filter(pl.Series(keep, dtype=pl.Boolean))
        self.stats.rows_accepted += rows.height
        all_issues = sorted([*early, *issues], key=lambda i: (i.row, i.severity != "error"))
        return ParsedBatch(rows, all_issues)


def parse_tickets(
    source: IO[bytes] | Iterable[bytes],
    profile: Profile,
    **options: Any,
) -> tuple[list[ParsedBatch], ParseStats]:
    """Convenience for small files and tests: parse everything, return batches and stats."""
    parser = TicketFileParser(profile, **options)
    batches = list(parser.parse(source))
    return batches, parser.stats
