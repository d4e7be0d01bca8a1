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
* A UTF-16 byte-order mark (little- or big-endian) → UTF-16. Refused by name
  (``FileFormatError``), from the first 4 kB: UTF-32, UTF-16 without a mark (a NUL in
  every other byte), a workbook (.xlsx/.xls), a PDF, gzip, and any other binary data (a
  NUL byte, or more than 2 % control codes).
* Line ends: CR (old Mac and some Excel exports), LF and CRLF, in any mix; a bare CR
  becomes LF before records are split (a quoted cell's CRLF is kept).

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
A row whose cell count differs from the header's is rejected (``column_count``), never
read with blanks. The file's last row, when no line break follows it, is rejected as cut
off (``truncated_row``) when it ends inside a quoted cell, has fewer cells than the
header, ends right after a separator, or ends inside a multi-byte character: an upload cut
short must not overwrite stored values with the blanks of its missing cells. (A cut
inside a cell's value — "10" cut to "1" — cannot be told from a whole row.) A row with a
NUL character is rejected (``nul_character``); a row the csv module cannot read, too
(``unreadable_row``).
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
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, Literal

import polars as pl

from services.ingest.tickets.profiles import (
    CANONICAL_FIELDS,
    EVENT_KINDS,
    STATUSES,
    EventSource,
    Profile,
)
from shared.tickets import parsed_schema

LONDON = "Europe/London"
DEFAULT_BATCH_SIZE = 10_000
READ_CHUNK = 1 << 20

_DT = pl.Datetime("us", "UTC")

# The rows the parser yields: every field of the ticket declaration (shared/tickets.py,
# which says what each means), in its order and with its dtype.
CANONICAL_SCHEMA: dict[str, pl.DataType] = parsed_schema()

NAIVE_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
)
AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")

# The instants a row may carry, parsed alike.
DATE_FIELDS = ("logged_at", "resolved_at", "closed_at", "first_response_at")

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
    """Accepted rows (``CANONICAL_SCHEMA``) and the issues found in this batch, and the
    history events the accepted rows carried (``EVENT_SCHEMA``; empty for CSV)."""

    rows: pl.DataFrame
    issues: list[RowIssue]
    events: pl.DataFrame | None = None

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


SNIFF_BYTES = 4096  # bytes looked at before deciding how to read the file

# Files that are plainly not text exports, refused by name.
_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Excel workbook (.xls)"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed"),
)
# C0 control bytes other than tab, line feed, form feed and carriage return, plus DEL.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"
_SAVE_AS = "save it as CSV UTF-8 (in Excel: Save As, CSV UTF-8) and push that file"


def check_text(sample: bytes, offset: int = 0) -> None:
    """Refuse the start of a file that is not text, naming what it is where we can tell.

    UTF-16 without a byte-order mark shows as a NUL in every other byte; any other NUL,
    or more than a few control bytes, means binary data (text exports have neither).
    """
    for magic, what in _MAGIC:
        if sample.startswith(magic):
            raise FileFormatError(
                f"The file is {what}, not a CSV or JSON-lines export: {_SAVE_AS}."
            )
    nul = sample.find(b"\x00")
    if nul >= 0:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if max(even, odd) * 3 >= len(sample) // 2 and min(even, odd) * 10 <= max(even, odd):
            raise FileFormatError(
                "The file looks like UTF-16 text without a byte-order mark (every other byte "
                f"is NUL), which cannot be read reliably: {_SAVE_AS}, or as UTF-16 with its "
                "byte-order mark."
            )
        raise FileFormatError(
            f"The file is not a text export: it holds binary data (a NUL byte at byte "
            f"{offset + nul}). Export the tickets as CSV (UTF-8) or JSON lines and push that "
            "file."
        )
    control = len(sample) - len(sample.translate(None, _CONTROL))
    if control > 2 and control * 50 > len(sample):
        raise FileFormatError(
            f"The file is not a text export: {control} of its first {len(sample)} bytes are "
            "binary control codes. Export the tickets as CSV (UTF-8) or JSON lines and push "
            "that file."
        )


class StreamDecoder:
    """Incremental bytes → text with BOM / UTF-8 / Windows-1252 detection (see module).

    The first ``SNIFF_BYTES`` are looked at before anything is decoded: a UTF-16 byte-order
    mark (little- or big-endian) selects UTF-16; a UTF-32 one, UTF-16 without a mark, a
    workbook, a PDF or other binary data is refused with a ``FileFormatError`` naming it.
    ``cut_short`` is set when the file ends inside a multi-byte character (the bytes of
    the partial character are dropped): the last row was cut off.
    """

    def __init__(self) -> None:
        # decided: "utf-8-sig", "utf-8", "cp1252", "utf-16-le" or "utf-16-be"
        self.encoding: str | None = None
        self.replaced = 0
        self.cut_short = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._lenient = False  # invalid UTF-8 seen after valid UTF-8: replacing from now on
        self._cp1252 = codecs.getincrementaldecoder("cp1252")(errors="replace")
        self._utf16: codecs.IncrementalDecoder | None = None
        self._head: list[bytes] = []
        self._started = False

    def decode(self, chunk: bytes, final: bool = False) -> str:
        if not self._started:
            # The chunks are kept as they came and decoded one by one once the file is
            # sniffed, so the decision on Windows-1252 is the same as without sniffing.
            self._head.append(chunk)
            head = b"".join(self._head)
            if len(head) < SNIFF_BYTES and not final:
                return ""
            skip = self._sniff(head)
            pieces, self._head = self._head, []
            self._started = True
            text = ""
            for piece in pieces:
                cut = min(skip, len(piece))
                skip -= cut
                text += self._decode(piece[cut:])
        else:
            text = self._decode(chunk)
        if final:
            active = self._utf16 or (None if self.encoding == "cp1252" else self._utf8)
            if active is not None and active.getstate()[0]:
                self.cut_short = True  # bytes of an incomplete character: dropped
                active.reset()
        return text

    def _sniff(self, head: bytes) -> int:
        """Decide how to read the file from its first bytes; the length of its BOM."""
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            raise FileFormatError(f"The file is UTF-32 text, which is not read here: {_SAVE_AS}.")
        for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
            if head.startswith(bom):
                self.encoding = name
                # Unpaired surrogates become U+FFFD and are counted, as invalid UTF-8 is.
                self._utf16 = codecs.getincrementaldecoder(name)(errors="replace")
                return len(bom)
        skip = 0
        if head.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8-sig"
            skip = len(codecs.BOM_UTF8)
        check_text(head[skip : skip + SNIFF_BYTES], skip)
        return skip

    def _decode(self, chunk: bytes) -> str:
        if self._utf16 is not None:
            text = self._utf16.decode(chunk)
            self.replaced += text.count("\ufffd")
            return text
        if self.encoding == "cp1252":
            return self._cp1252.decode(chunk)
        if self._lenient:
            text = self._utf8.decode(chunk)
            self.replaced += text.count("\ufffd")
            return text
        if self.encoding is None and not chunk.isascii():
            try:
                text = self._utf8.decode(chunk)
            except UnicodeDecodeError:
                # Everything before was ASCII, so switching now equals cp1252 throughout.
                self.encoding = "cp1252"
                return self._cp1252.decode(chunk)
            self.encoding = "utf-8"
            return text
        try:
            return self._utf8.decode(chunk)
        except UnicodeDecodeError:
            # A failed call leaves the decoder's state as before it: carry that on into a
            # replacing decoder, so characters split across reads still decode.
            state = self._utf8.getstate()
            self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
            self._utf8.setstate(state)
            self._lenient = True
            return self._decode(chunk)

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


_BARE_CR = re.compile(r"\r(?!\n)")


def normalise_newlines(texts: Iterable[str]) -> Iterator[str]:
    """Bare CR line ends (old Mac and some Excel exports) → LF; CRLF and LF are kept.

    A CR at the end of a piece waits for the next one, which may start with its LF. Only a
    piece with more CRs than CRLFs goes through the regular expression.
    """
    held = ""
    for text in texts:
        if held:
            text, held = held + text, ""
        if "\r" not in text:
            yield text
            continue
        if text.endswith("\r"):
            text, held = text[:-1], "\r"
        if text.count("\r") != text.count("\r\n"):
            text = _BARE_CR.sub("\n", text)
        if text:
            yield text
    if held:
        yield "\n"


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


def _resolve_columns(
    columns: Mapping[str, tuple[str, ...]], headers: Iterable[str]
) -> dict[str, str]:
    """canonical field → the source header to read (first candidate present)."""
    present = {_norm_header(h): h for h in headers}
    out: dict[str, str] = {}
    for canonical, candidates in columns.items():
        for c in candidates:
            if _norm_header(c) in present:
                out[canonical] = present[_norm_header(c)]
                break
    return out


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects flattened with dots; a list of objects that carry a ``role`` (as
    TMF's relatedParty does) also gives ``key[role=<role>].field`` for each of them."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, key + ".")
        else:
            out[key] = v
            if isinstance(v, list):
                for item in v:
                    if isinstance(item, dict) and isinstance(item.get("role"), str):
                        role = item["role"].strip().lower()
                        out |= {
                            name: value
                            for name, value in _flatten(item, f"{key}[role={role}].").items()
                            if name not in out
                        }
    return out


def _text(v: Any) -> str | None:
    return None if v is None else (v if isinstance(v, str) else json.dumps(v))


Record = tuple[int, dict[str, str | None], list[dict[str, str | None]]]


def _record_events(
    obj: dict[str, Any], sources: Iterable[EventSource]
) -> list[dict[str, str | None]]:
    """The history a JSON record carries (see ``EventSource``), in the record's order."""
    events: list[dict[str, str | None]] = []
    for src in sources:
        items = obj.get(src.path)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                events.append({"kind": None, "at": None, "value": None, "end_at": None})
                continue
            events.append(
                {
                    "kind": src.kind or _text(item.get(src.kind_field or "")),
                    "at": _text(item.get(src.at)),
                    "value": _text(item.get(src.value)) if src.value else None,
                    "end_at": _text(item.get(src.end)) if src.end else None,
                }
            )
    return events


def _json_records(
    objects: Iterator[tuple[int, Any] | RowIssue],
    columns: Mapping[str, tuple[str, ...]],
    sources: tuple[EventSource, ...],
) -> Iterator[Record | RowIssue]:
    for item in objects:
        if isinstance(item, RowIssue):
            yield item
            continue
        n, obj = item
        if not isinstance(obj, dict):
            yield RowIssue(n, None, "invalid_json", "a line must hold a JSON object")
            continue
        flat = _flatten(obj)
        mapping = _resolve_columns(columns, flat)
        rec = {canonical: _text(flat[src]) for canonical, src in mapping.items()}
        yield n, rec, _record_events(obj, sources)


def _json_document(texts: Iterable[str]) -> Iterator[tuple[int, Any] | RowIssue]:
    """The records of one JSON document: an array of objects (as a TMF621 list answer),
    or an object holding one such array; row n is the array's n-th element."""
    text = "".join(texts)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"The file is not one JSON document: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}. Send an array of tickets (format=json) or one ticket per line "
            "(format=jsonl)."
        ) from None
    if isinstance(doc, dict):
        arrays = [v for v in doc.values() if isinstance(v, list)]
        doc = arrays[0] if len(arrays) == 1 else None
    if not isinstance(doc, list):
        raise FileFormatError(
            "A JSON document must be an array of tickets (or an object holding one array)."
        )
    yield from enumerate(doc, start=1)


def _jsonl_objects(lines: Iterator[str]) -> Iterator[tuple[int, Any] | RowIssue]:
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowIssue(n, None, "invalid_json", f"invalid JSON: {exc.msg}")


# --------------------------------------------------------------------------- dates


def _cascade(s: pl.Series, formats: Iterable[str], **kw: Any) -> pl.Series:
    """First format that parses each value, trying a format only on the values still
    unparsed (the same result as a coalesce over all formats, without parsing every
    value once per format)."""
    out: pl.Series | None = None
    for f in formats:
        if out is None:
            out = s.str.to_datetime(f, strict=False, **kw)
            continue
        todo = (out.is_null() & s.is_not_null()).arg_true()
        if todo.len() == 0:
            break
        out = out.scatter(todo, s.gather(todo).str.to_datetime(f, strict=False, **kw))
    assert out is not None
    return out


def parse_datetime_series(
    raw: pl.Series, extra_formats: Iterable[str] = ()
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(value UTC, dst_gap, dst_ambiguous) for a column of date strings.

    Fast path for the whole column (naive formats, one London conversion); the rare rows
    that need more work — offsets or Z, clock-change gaps and overlaps — are redone
    exactly on their own. See the module docstring for the rule.
    """
    n = raw.len()
    s = raw.str.strip_chars()
    naive = _cascade(s, (*NAIVE_FORMATS, *extra_formats), time_unit="us")
    # Values that are not naive local times: ISO 8601 with an offset or Z.
    rest = (naive.is_null() & s.is_not_null()).arg_true()
    aware = pl.Series("aware", [None] * n, dtype=_DT)
    if rest.len():
        sub = (
            s.gather(rest)
            .str.replace(r"[zZ]$", "+00:00")
            .str.replace(r"^(\d{4}-\d{2}-\d{2}) (\d)", "${1}T${2}")
        )
        aware = aware.scatter(rest, _cascade(sub, AWARE_FORMATS, time_zone="UTC").cast(_DT))
        again = _cascade(sub, NAIVE_FORMATS, time_unit="us")
        naive = naive.scatter(rest, again.cast(naive.dtype))
        naive = pl.select(pl.when(aware.is_null()).then(naive)).to_series()
    early = naive.dt.replace_time_zone(LONDON, ambiguous="earliest", non_existent="null")
    value = early.dt.convert_time_zone("UTC").cast(_DT)
    value = pl.select(pl.coalesce(aware, value)).to_series()
    gap = naive.is_not_null() & early.is_null()
    ambiguous = pl.Series("ambiguous", [False] * n, dtype=pl.Boolean)
    # Ambiguous local times exist only around the autumn change, in the small hours.
    candidates = (
        early.is_not_null() & naive.dt.month().is_in([9, 10, 11]) & (naive.dt.hour() <= 3)
    ).arg_true()
    if candidates.len():
        sub_naive = naive.gather(candidates)
        late = sub_naive.dt.replace_time_zone(LONDON, ambiguous="latest", non_existent="null")
        ambiguous = ambiguous.scatter(candidates, early.gather(candidates) != late)
    gaps = gap.arg_true()
    if gaps.len():
        # In the gap, local time minus the offset in force before the change.
        g = naive.gather(gaps)
        day_before = g - pl.Series([timedelta(days=1)] * gaps.len())
        prev_utc = (
            day_before.dt.replace_time_zone(LONDON, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
            .dt.replace_time_zone(None)
        )
        shifted = (g - (day_before - prev_utc)).dt.replace_time_zone("UTC").cast(_DT)
        value = value.scatter(gaps, shifted)
    return value, gap.fill_null(False), ambiguous


# --------------------------------------------------------------------------- batches


def _lookup(raw: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    return raw.str.to_lowercase().replace_strict(
        list(mapping), list(mapping.values()), default=None, return_dtype=pl.Utf8
    )


EVENT_STRUCT = pl.Struct({"kind": pl.Utf8, "at": pl.Utf8, "value": pl.Utf8, "end_at": pl.Utf8})


def _records_frame(records: list[Record], fields: Sequence[str] = CANONICAL_FIELDS) -> pl.DataFrame:
    """A raw frame (``source_row`` + ``fields`` as Utf8, and ``__events``: each record's
    history as a list) from JSON records."""
    data: dict[str, list[Any]] = {c: [] for c in fields}
    rows: list[int] = []
    events: list[list[dict[str, str | None]] | None] = []
    for n, rec, evs in records:
        rows.append(n)
        events.append(evs or None)
        for c in fields:
            data[c].append(rec.get(c))
    return pl.DataFrame(
        {"source_row": rows, **data, "__events": events},
        schema={
            "source_row": pl.Int64,
            **{c: pl.Utf8 for c in fields},
            "__events": pl.List(EVENT_STRUCT),
        },
    )


# The events a parser yields beside its rows: the row they came from, the event's place
# in the row's history (``pos``), and the event.
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "pos": pl.Int64(),
    "kind": pl.Utf8(),
    "at": _DT,
    "value": pl.Utf8(),
    "canonical": pl.Utf8(),
    "end_at": _DT,
}
_ISSUE_COLUMNS = ["source_row", "check", "column", "code", "message", "severity"]


def normalise_events(
    ev: pl.DataFrame, profile: Profile, *, column: str, ticket_bounds: bool, numbered: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Vectorised checks of history events: (good events as ``EVENT_SCHEMA``, issues).

    ``ev``: source_row, pos, kind, at, value, end_at as text; with ``ticket_bounds`` also
    the row's ticket instants (logged_at__v, resolved_at__v, closed_at__v), so an event
    before the ticket was logged or after it was closed is refused here. Refused: an
    unknown kind, a missing or unreadable instant, a priority the profile does not know,
    an assignment or status without a value, an end before its start, and assignment
    intervals of one ticket that overlap (two at one instant, or one starting before
    the previous one's stated end). Status labels keep their spelling; ``canonical`` is
    the profile's status (null when it does not know the label) or the P0-P4 priority.
    """
    ev = ev.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in ("kind", "at", "value", "end_at")
    ).with_columns(pl.col("kind").str.to_lowercase())
    extra = profile.extra_datetime_formats
    at, _gap, _amb = parse_datetime_series(ev["at"], extra)
    end, _gap2, _amb2 = parse_datetime_series(ev["end_at"], extra)
    statuses = profile.status_values()
    ev = ev.with_columns(
        at.alias("at__v"),
        end.alias("end__v"),
        pl.when(pl.col("kind") == "priority")
        .then(_lookup(pl.col("value"), profile.priority_values()))
        .when(pl.col("kind") == "status")
        .then(
            pl.coalesce(
                _lookup(pl.col("value"), statuses),
                pl.when(pl.col("value").str.to_lowercase().is_in(STATUSES)).then(
                    pl.col("value").str.to_lowercase()
                ),
            )
        )
        .alias("canonical"),
    )
    # Assignments of one row in time order: the previous one's start and stated end.
    assign = (
        ev.filter((pl.col("kind") == "assignment") & pl.col("at__v").is_not_null())
        .sort("source_row", "at__v", "pos")
        .with_columns(
            pl.col("at__v").shift(1).over("source_row").alias("prev_at"),
            pl.col("end__v").shift(1).over("source_row").alias("prev_end"),
            pl.col("pos").shift(1).over("source_row").alias("prev_pos"),
        )
        .select("source_row", "pos", "prev_at", "prev_end", "prev_pos")
    )
    ev = ev.join(assign, on=["source_row", "pos"], how="left")
    what = pl.format(
        "{} at {}", pl.col("kind").fill_null("no kind"), pl.col("at").fill_null("no date")
    )
    where = (
        pl.format("event {} ({})", pl.col("pos") + 1, what)
        if numbered
        else pl.format("{} event", what)
    )
    checks: list[tuple[pl.Expr, str, pl.Expr]] = [
        (
            pl.col("kind").is_null() | ~pl.col("kind").is_in(EVENT_KINDS),
            "unknown_event_kind",
            pl.format("{}: the kind must be status, priority, assignment or response", where),
        ),
        (
            pl.col("at__v").is_null(),
            "unreadable_event_date",
            pl.format("{}: no readable date (dd/mm/yyyy HH:MM[:SS] or ISO 8601)", where),
        ),
        (
            (pl.col("kind") == "priority") & pl.col("canonical").is_null(),
            "unknown_priority",
            pl.format("{}: unknown priority '{}'", where, pl.col("value").fill_null("")),
        ),
        (
            pl.col("kind").is_in(["status", "assignment"]) & pl.col("value").is_null(),
            "missing_event_value",
            pl.format("{}: a status or assignment event needs its value", where),
        ),
        (
            pl.col("end_at").is_not_null()
            & (pl.col("end__v").is_null() | (pl.col("end__v") < pl.col("at__v"))),
            "bad_event_end",
            pl.format("{}: end '{}' is unreadable or before the event", where, pl.col("end_at")),
        ),
        (
            pl.col("prev_at").is_not_null()
            & (
                (pl.col("prev_at") == pl.col("at__v"))
                | (pl.col("prev_end").is_not_null() & (pl.col("prev_end") > pl.col("at__v")))
            ),
            "overlapping_assignment",
            pl.format(
                "{}: this assignment overlaps event {} (the ticket was still assigned then)",
                where,
                pl.col("prev_pos") + 1,
            ),
        ),
    ]
    if ticket_bounds:
        closed = pl.coalesce("closed_at__v", "resolved_at__v")
        checks += [
            (
                pl.col("at__v") < pl.col("logged_at__v"),
                "event_before_logged",
                pl.format("{}: before the ticket was logged", where),
            ),
            (
                pl.col("at__v") > closed,
                "event_after_closed",
                pl.format("{}: after the ticket was closed", where),
            ),
        ]
    issues = pl.concat(
        [
            ev.filter(cond.fill_null(False)).select(
                "source_row",
                pl.lit(100 + i, pl.Int32).alias("check"),
                pl.lit(column, pl.Utf8).alias("column"),
                pl.lit(code).alias("code"),
                msg.cast(pl.Utf8).alias("message"),
                pl.lit("error").alias("severity"),
            )
            for i, (cond, code, msg) in enumerate(checks)
        ]
    )
    bad = pl.any_horizontal(cond.fill_null(False) for cond, _c, _m in checks)
    good = ev.filter(~bad).select(
        "source_row",
        "pos",
        "kind",
        pl.col("at__v").alias("at"),
        "value",
        "canonical",
        pl.col("end__v").alias("end_at"),
    )
    return good.cast(EVENT_SCHEMA), issues  # type: ignore[arg-type]


def _normalise(
    raw: pl.DataFrame,
    profile: Profile,
    organisation_id: str | None,
    source_system: str,
    organisation_values: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, list[RowIssue], pl.DataFrame]:
    """Vectorised normalisation and validation of one batch of raw records: (rows,
    issues, the accepted rows' history events).

    ``raw`` holds ``source_row`` (Int64) and every canonical field as Utf8, and may hold
    ``__events`` (each record's history). ``organisation_values`` (lower-cased value →
    organisation id) translates the organisation column; a value not in it is refused.
    """
    raw = raw.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in CANONICAL_FIELDS)
    extra = profile.extra_datetime_formats
    date_cols: list[pl.Series] = []
    for c in DATE_FIELDS:
        value, gap, amb = parse_datetime_series(raw[c], extra)
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
        # A row's own organisation (through the value mapping, when there is one); the
        # upload's only when the row names none.
        pl.when(pl.col("organisation").is_null())
        .then(pl.lit(organisation_id, pl.Utf8))
        .otherwise(
            pl.col("organisation")
            if organisation_values is None
            else _lookup(pl.col("organisation"), dict(organisation_values))
        )
        .alias("org__v"),
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
            # PostgreSQL text cannot hold NUL; a text export has none unless it is damaged.
            pl.any_horizontal(
                pl.col(c).str.contains("\x00", literal=True) for c in CANONICAL_FIELDS
            ),
            None,
            "nul_character",
            pl.lit("the row holds a NUL character, which cannot be stored: the file is damaged"),
            "error",
        ),
        (
            pl.col("ticket_ref").is_null(),
            "ticket_ref",
            "missing_reference",
            pl.lit("missing ticket reference"),
            "error",
        ),
        (
            pl.lit(organisation_values is not None)
            & pl.col("organisation").is_not_null()
            & pl.col("org__v").is_null(),
            "organisation",
            "unmapped_organisation",
            pl.format(
                "organisation '{}' is not in the organisation value mapping of this upload's "
                "organisation and source system; add it there or correct the row",
                pl.col("organisation"),
            ),
            "error",
        ),
        (
            pl.col("org__v").is_null() & pl.col("organisation").is_null(),
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
    for c in DATE_FIELDS:
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
            pl.col("first_response_at__v") < pl.col("logged_at__v"),
            "first_response_at",
            "response_before_logged",
            pl.lit("first response before logged: kept; its first-response figure is not counted"),
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
    events = pl.DataFrame(schema=EVENT_SCHEMA)
    if "__events" in df.columns and df["__events"].null_count() < df.height:
        nested = (
            df.select("source_row", "__events", "logged_at__v", "resolved_at__v", "closed_at__v")
            .filter(pl.col("__events").list.len() > 0)
            .with_columns(pl.int_ranges(pl.col("__events").list.len()).alias("pos"))
            .explode("__events", "pos")
            .unnest("__events")
        )
        events, event_issues = normalise_events(
            nested, profile, column="history", ticket_bounds=True
        )
        issue_frames.append(event_issues)
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
        pl.col("first_response_at__v").alias("first_response_at"),
        "source_row",
        pl.any_horizontal(*(f"{c}__gap" for c in DATE_FIELDS)).alias("flag_dst_gap"),
        pl.any_horizontal(*(f"{c}__amb" for c in DATE_FIELDS)).alias("flag_dst_ambiguous"),
        (pl.col("resolved_at__v") < pl.col("logged_at__v"))
        .fill_null(False)
        .alias("flag_resolved_before_logged"),
    )
    kept = out.select(pl.col(c).cast(t) for c, t in CANONICAL_SCHEMA.items())
    if events.height:
        events = events.join(kept.select("source_row"), on="source_row", how="semi")
    return kept, issues, events


_VALUE_COLUMNS = [c for c in CANONICAL_SCHEMA if c != "source_row"]
_SEEN_SCHEMA = {"key": pl.UInt64, "first_row": pl.Int64, "first_hash": pl.UInt64}
TEXT_CHUNK = 8 << 20  # UTF-8 bytes handed to Polars at a time
# A record longer than this is a quote never closed (or no line breaks at all).
MAX_RECORD_BYTES = 4 * TEXT_CHUNK


# ------------------------------------------------------------------------ CSV chunks


@dataclass
class _CsvChunk:
    """Complete CSV records of one text chunk, located without a per-row loop."""

    data: bytes  # UTF-8, whole records only
    starts: Any  # numpy int64: byte offset of each record
    ends: Any  # numpy int64: offset of each record's terminating \n (or len(data))
    fields: Any  # numpy int64: number of fields in each record


def _scan_records(buf: bytes, sep: int, final: bool) -> tuple[_CsvChunk, bytes]:
    """Split ``buf`` at the last record boundary outside quotes; count fields per record.

    RFC 4180 quoting keeps quote parity: a byte is inside a quoted field exactly when an
    odd number of ``"`` precede it (an escaped ``""`` adds two), so one XOR-scan gives the
    record terminators and separators that count, all in numpy.
    """
    import numpy as np

    a = np.frombuffer(buf, np.uint8)
    quote = a == 34
    if quote.any():
        outside = ~np.logical_xor.accumulate(quote)
        newlines = np.flatnonzero((a == 10) & outside)
        seps = np.flatnonzero((a == sep) & outside)
    else:
        newlines = np.flatnonzero(a == 10)
        seps = np.flatnonzero(a == sep)
    if final and (newlines.size == 0 or newlines[-1] != len(buf) - 1) and len(buf):
        newlines = np.append(newlines, len(buf))
    if newlines.size == 0:
        empty = np.zeros(0, np.int64)
        return _CsvChunk(b"", empty, empty, empty), buf
    cut = int(newlines[-1]) + 1
    starts = np.concatenate(([0], newlines[:-1] + 1)).astype(np.int64)
    ends = newlines.astype(np.int64)
    fields = (np.searchsorted(seps, ends) - np.searchsorted(seps, starts)).astype(np.int64) + 1
    return _CsvChunk(buf[:cut], starts, ends, fields), buf[cut:]


def _text_chunks(source: IO[bytes] | Iterable[bytes], decoder: StreamDecoder) -> Iterator[bytes]:
    """The upload as UTF-8 bytes (transcoded from Windows-1252 when detected)."""
    pending: list[str] = []
    size = 0
    for text in normalise_newlines(iter_text(iter_chunks(source), decoder)):
        pending.append(text)
        size += len(text)
        if size >= TEXT_CHUNK:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


def _read_chunk(chunk: _CsvChunk, width: int, sep: str) -> pl.DataFrame | None:
    """Every record of the chunk as ``width`` Utf8 columns (``c0`` …), or None if Polars
    disagrees with the scan about the record count (then the caller uses ``csv``)."""
    if not chunk.data:
        return pl.DataFrame(schema={f"c{i}": pl.Utf8 for i in range(width)})
    try:
        frame = pl.read_csv(
            chunk.data,
            has_header=False,
            separator=sep,
            schema={f"c{i}": pl.Utf8 for i in range(width)},
            truncate_ragged_lines=True,
            missing_columns="insert",
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    return frame if frame.height == len(chunk.starts) else None


def _read_chunk_slow(chunk: _CsvChunk, width: int, sep: str) -> pl.DataFrame:
    """Fallback for a chunk Polars reads differently (e.g. stray quotes): the csv module.

    A record the csv module cannot read either gets its reason in ``__bad`` (a row error).
    """
    cols: list[list[str | None]] = [[] for _ in range(width)]
    bad: list[str | None] = []
    for start, end in zip(chunk.starts.tolist(), chunk.ends.tolist(), strict=True):
        text = chunk.data[start:end].decode()
        try:
            record = next(csv.reader([text], delimiter=sep), [])
            bad.append(None)
        except csv.Error as exc:
            record = []
            bad.append(str(exc))
        for i in range(width):
            cols[i].append(record[i] if i < len(record) else None)
    return pl.DataFrame(
        {**{f"c{i}": cols[i] for i in range(width)}, "__bad": bad},
        schema={**{f"c{i}": pl.Utf8 for i in range(width)}, "__bad": pl.Utf8},
    )


def _truncation(record: bytes, fields: int, width: int, sep: int, cut_short: bool) -> str | None:
    """Why the file's last record, which has no line break after it, looks cut off; None
    if it looks whole.

    An export cut inside its last row must not overwrite stored values with the blanks of
    the missing cells, so that row is an error when it ends inside a quoted cell, has
    fewer cells than the header, ends right after a separator (its last cell missing) or
    ends inside a character. A complete last row merely without a final line break (an
    explicitly quoted empty last cell included) is read as usual.
    """
    if record.count(b'"') % 2:
        return 'it ends inside a quoted cell (or a stray " opened one in this row)'
    if fields < width:
        return f"it has {fields} of the header's {width} cells"
    if record.rstrip(b" \t").endswith(bytes([sep])):
        return "it ends right after a separator, so its last cell is missing"
    if cut_short:
        return "it ends in the middle of a character"
    return None


class TicketFileParser:
    """Parse one uploaded file in batches of ``batch_size`` records.

    ``for batch in parser.parse(stream): ...`` then read ``parser.stats``.

    CSV is read in text chunks of ~8 MB: a numpy pass finds the record boundaries and the
    field count of every record (so ragged rows are reported and row numbers stay exact
    with quoted line breaks and blank lines), Polars reads the chunk as strings, and
    mapping, date parsing, validation and duplicate detection are expressions and joins
    over each batch. Nothing loops over rows in Python except over rows with errors.

    Memory is bounded by the chunk and batch sizes plus, for duplicate detection across
    batches, one entry per distinct (organisation, reference) seen so far: a 64-bit hash
    of the key, the first row number and a 64-bit hash of its values — 24 bytes per
    distinct ticket, never the file. (Two different references colliding on a 64-bit
    hash has probability ~n²/2⁶⁵: about 3·10⁻⁸ for a million tickets.)
    """

    def __init__(
        self,
        profile: Profile,
        *,
        source_system: str | None = None,
        organisation_id: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        file_format: Literal["csv", "jsonl", "json"] = "csv",
        delimiter: str = ",",
        organisation_values: Mapping[str, str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if len(delimiter.encode()) != 1:
            raise ValueError("the delimiter must be a single byte")
        self.profile = profile
        self.source_system = source_system or profile.name
        self.organisation_id = organisation_id
        self.batch_size = batch_size
        self.file_format = file_format
        self.delimiter = delimiter
        # lower-cased, trimmed organisation value → organisation id (a value mapping)
        self.organisation_values = (
            None
            if organisation_values is None
            else {k.strip().lower(): v for k, v in organisation_values.items()}
        )
        self.stats = ParseStats()
        self._seen = pl.DataFrame(schema=_SEEN_SCHEMA)
        self.history: tuple[EventSource, ...] = profile.history

    # What a record holds and which of it must be there.
    fields: tuple[str, ...] = CANONICAL_FIELDS
    required: tuple[str, ...] = ("ticket_ref", "logged_at")

    # ------------------------------------------------------------------ drivers

    def parse(self, source: IO[bytes] | Iterable[bytes]) -> Iterator[ParsedBatch]:
        decoder = StreamDecoder()
        frames = (
            self._csv_frames(source, decoder)
            if self.file_format == "csv"
            else self._jsonl_frames(source, decoder)
        )
        pending: list[pl.DataFrame] = []
        pending_rows = 0
        early: list[RowIssue] = []
        for item in frames:
            if isinstance(item, RowIssue):
                early.append(item)
                self.stats.rows_read += 1
                self.stats.rows_rejected += 1
                continue
            pending.append(item)
            pending_rows += item.height
            while pending_rows >= self.batch_size:
                joined = pl.concat(pending)
                yield self._batch(joined.head(self.batch_size), early)
                rest = joined.slice(self.batch_size)
                pending, pending_rows, early = [rest], rest.height, []
        if pending_rows or early:
            yield self._batch(pl.concat(pending) if pending else None, early)
        self.stats.encoding = decoder.encoding
        self.stats.replaced_characters = decoder.replaced

    def _csv_frames(
        self, source: IO[bytes] | Iterable[bytes], decoder: StreamDecoder
    ) -> Iterator[pl.DataFrame | RowIssue]:
        sep = self.delimiter
        sep_byte = sep.encode()[0]
        header: list[str] | None = None
        select: list[pl.Expr] = []
        row = 0  # spreadsheet row of the last record read (header = 1)
        carry = b""
        chunks = _text_chunks(source, decoder)
        done = False
        while not done:
            block = next(chunks, None)
            done = block is None
            buf = carry + (block or b"")
            chunk, carry = _scan_records(buf, sep_byte, final=done)
            if len(carry) > MAX_RECORD_BYTES:
                runaway = row + len(chunk.starts) + 1
                raise FileFormatError(
                    f"Row {runaway} runs on for more than {MAX_RECORD_BYTES >> 20} MB without "
                    'ending: a quoted cell is never closed (a stray " character?) or the file '
                    "has no line breaks. Fix the file and push it again."
                )
            if not len(chunk.starts):
                continue
            if header is None:
                end = int(chunk.ends[0])
                header = next(csv.reader([chunk.data[:end].decode()], delimiter=sep), [])
                select = self._header_mapping(header)
                row = 1
                rest = chunk.data[end + 1 :]
                offset = end + 1
                chunk = _CsvChunk(
                    rest, chunk.starts[1:] - offset, chunk.ends[1:] - offset, chunk.fields[1:]
                )
                if not len(chunk.starts):
                    continue
            width = len(header)
            frame = _read_chunk(chunk, width, sep)
            if frame is None:
                frame = _read_chunk_slow(chunk, width, sep)
            else:
                frame = frame.with_columns(pl.lit(None, pl.Utf8).alias("__bad"))
            n = frame.height
            # The last record of the file with no line break after it: cut off?
            truncated = None
            if done and int(chunk.ends[-1]) == len(chunk.data):
                start = int(chunk.starts[-1])
                truncated = _truncation(
                    chunk.data[start:],
                    int(chunk.fields[-1]),
                    width,
                    sep_byte,
                    decoder.cut_short,
                )
            frame = frame.with_columns(
                pl.int_range(row + 1, row + 1 + n, dtype=pl.Int64).alias("source_row"),
                pl.Series("__fields", chunk.fields, dtype=pl.Int64),
                (pl.int_range(0, n) == n - 1 if truncated else pl.lit(False)).alias("__cut"),
            )
            row += n
            blank = pl.all_horizontal(
                pl.col(f"c{i}").str.strip_chars().fill_null("") == "" for i in range(width)
            )
            frame = frame.filter(~blank | pl.col("__bad").is_not_null() | pl.col("__cut"))
            for (r,) in frame.filter("__cut").select("source_row").iter_rows():
                yield RowIssue(
                    r,
                    None,
                    "truncated_row",
                    f"the file ends inside this row, with no line break after it: {truncated}. "
                    "It looks cut off, so nothing in it was stored; push the complete export",
                )
            frame = frame.filter(~pl.col("__cut"))
            for r, reason in (
                frame.filter(pl.col("__bad").is_not_null())
                .select("source_row", "__bad")
                .iter_rows()
            ):
                yield RowIssue(r, None, "unreadable_row", f"cannot read the row as CSV: {reason}")
            frame = frame.filter(pl.col("__bad").is_null())
            ragged = frame.filter(pl.col("__fields") != width)
            for r, f in ragged.select("source_row", "__fields").iter_rows():
                yield RowIssue(r, None, "column_count", f"{f} fields where the header has {width}")
            yield frame.filter(pl.col("__fields") == width).select(select)

    def _header_mapping(self, header: list[str]) -> list[pl.Expr]:
        if not any(h.strip() for h in header):
            raise FileFormatError(
                "The first line of the file is empty: a CSV export must start with its header "
                "row (the column names)."
            )
        mapping = _resolve_columns(self.columns(), header)
        missing = [c for c in self.required if c not in mapping]
        if missing:
            shown = self.delimiter.join(header)
            hint = ""
            if len(header) == 1:
                hint = next(
                    (
                        f" The header has a single column: the file seems to be separated by "
                        f"{c!r}, not {self.delimiter!r}; export it comma-separated."
                        for c in (";", "\t", "|")
                        if c in header[0]
                    ),
                    "",
                )
            raise FileFormatError(
                f"no column for {', '.join(missing)} in the header for profile "
                f"{self.profile.name!r} (the header reads {shown[:120]!r}); check the profile "
                f"or mapping chosen for the upload.{hint}"
            )
        index = {canonical: header.index(src) for canonical, src in mapping.items()}
        return [
            pl.col("source_row"),
            *(
                pl.col(f"c{index[c]}").alias(c) if c in index else pl.lit(None, pl.Utf8).alias(c)
                for c in self.fields
            ),
        ]

    def columns(self) -> Mapping[str, tuple[str, ...]]:
        """Field → the headers (or JSON keys) it may come from."""
        return self.profile.columns

    def _jsonl_frames(
        self, source: IO[bytes] | Iterable[bytes], decoder: StreamDecoder
    ) -> Iterator[pl.DataFrame | RowIssue]:
        texts = normalise_newlines(iter_text(iter_chunks(source), decoder))
        objects: Iterator[tuple[int, Any] | RowIssue]
        if self.file_format == "json":
            objects = _json_document(texts)
        else:
            objects = _jsonl_objects(iter_lines(texts))
        records: list[Record] = []
        parsed = _json_records(objects, self.columns(), self.history)
        for item in parsed:
            if isinstance(item, RowIssue):
                yield item
                continue
            records.append(item)
            if len(records) >= self.batch_size:
                yield _records_frame(records, self.fields)
                records = []
        if records:
            yield _records_frame(records, self.fields)

    # ------------------------------------------------------------------ one batch

    def _batch(self, raw: pl.DataFrame | None, early: list[RowIssue]) -> ParsedBatch:
        count = 0 if raw is None else raw.height
        self.stats.rows_read += count
        if raw is None or count == 0:
            return ParsedBatch(pl.DataFrame(schema=CANONICAL_SCHEMA), early)
        rows, issues, events = _normalise(
            raw,
            self.profile,
            self.organisation_id,
            self.source_system,
            self.organisation_values,
        )
        rows, dup_issues, merged = self._deduplicate(rows)
        self.stats.duplicates_merged += merged
        self.stats.rows_rejected += count - rows.height - merged
        self.stats.rows_accepted += rows.height
        all_issues = sorted(
            [*early, *issues, *dup_issues], key=lambda i: (i.row, i.severity != "error")
        )
        if events.height:
            events = events.join(rows.select("source_row"), on="source_row", how="semi")
        return ParsedBatch(rows, all_issues, events)

    def _deduplicate(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[RowIssue], int]:
        """Merge identical repeats of a reference, reject conflicting ones (vectorised).

        Each row is compared with the first row of its (organisation, reference) in the
        file: this batch's first occurrence, or the one remembered from earlier batches.
        """
        keyed = rows.with_columns(
            pl.struct("organisation_id", "ticket_ref").hash(seed=1).alias("__key"),
            pl.struct(_VALUE_COLUMNS).hash(seed=0).alias("__hash"),
        )
        firsts = keyed.group_by("__key", maintain_order=True).agg(
            pl.col("source_row").first().alias("first_row"),
            pl.col("__hash").first().alias("first_hash"),
        )
        known = firsts.select("__key").join(
            self._seen.rename({"key": "__key"}), on="__key", how="inner"
        )
        new = firsts.join(known.select("__key"), on="__key", how="anti")
        reference = pl.concat([known, new], how="vertical")
        if new.height:
            self._seen = pl.concat(
                [self._seen, new.rename({"__key": "key"}).select(list(_SEEN_SCHEMA))]
            )
            if self._seen.n_chunks() > 64:
                self._seen = self._seen.rechunk()
        judged = keyed.join(reference, on="__key", how="left", maintain_order="left")
        is_first = pl.col("source_row") == pl.col("first_row")
        same = pl.col("__hash") == pl.col("first_hash")
        keep = judged.filter(is_first).drop("__key", "__hash", "first_row", "first_hash")
        merged = judged.filter(~is_first & same).height
        conflicts = judged.filter(~is_first & ~same)
        issues = [
            RowIssue(
                n,
                "ticket_ref",
                "duplicate_conflict",
                f"reference {ref!r} already appears in row {first} with different values; "
                f"rows {first} and {n} conflict, row {n} was rejected",
                related_row=first,
            )
            for n, ref, first in conflicts.select(
                "source_row", "ticket_ref", "first_row"
            ).iter_rows()
        ]
        return keep, issues, merged


def parse_tickets(
    source: IO[bytes] | Iterable[bytes],
    profile: Profile,
    **options: Any,
) -> tuple[list[ParsedBatch], ParseStats]:
    """Convenience for small files and tests: parse everything, return batches and stats."""
    parser = TicketFileParser(profile, **options)
    batches = list(parser.parse(source))
    return batches, parser.stats


# --------------------------------------------------------------------- history files

HISTORY_FIELDS = ("organisation", "ticket_ref", "kind", "at", "value", "end_at")
# The rows a history file yields: one event each, for a ticket named by reference.
HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "organisation_id": pl.Utf8(),
    "ticket_ref": pl.Utf8(),
    "pos": pl.Int64(),
    "kind": pl.Utf8(),
    "at": _DT,
    "value": pl.Utf8(),
    "canonical": pl.Utf8(),
    "end_at": _DT,
}


class HistoryFileParser(TicketFileParser):
    """A ticket history as a file of its own (the second file of an export): one event a
    row (CSV) or a line (JSON lines) with ``ticket_ref``, ``kind`` (status, priority,
    assignment or response), ``at``, ``value`` (the status, priority or resolver group as
    the tool names it), optionally ``end_at`` (an assignment's end) and ``organisation``.
    The profile's headers for the reference and organisation are accepted too, and its
    value maps give statuses and priorities their canonical values.

    Rows are checked alone here (see ``normalise_events``); checks against the stored
    ticket (unknown, before logged, after closed) and across rows (overlapping
    assignments) are the loader's, in the database.
    """

    fields = HISTORY_FIELDS
    required = ("ticket_ref", "kind", "at")

    def __init__(self, profile: Profile, **options: Any) -> None:
        super().__init__(profile, **options)
        self.history = ()

    def columns(self) -> Mapping[str, tuple[str, ...]]:
        own = self.profile.columns
        return {
            "organisation": ("organisation", *own.get("organisation", ())),
            "ticket_ref": ("ticket_ref", "reference", *own.get("ticket_ref", ())),
            "kind": ("kind", "event"),
            "at": ("at", "changed_at", "date"),
            "value": ("value",),
            "end_at": ("end_at", "until"),
        }

    def _batch(self, raw: pl.DataFrame | None, early: list[RowIssue]) -> ParsedBatch:
        count = 0 if raw is None else raw.height
        self.stats.rows_read += count
        if raw is None or count == 0:
            return ParsedBatch(pl.DataFrame(schema=HISTORY_SCHEMA), early)
        raw = raw.with_columns(
            pl.col(c).str.strip_chars().replace("", None) for c in ("organisation", "ticket_ref")
        )
        org = pl.col("organisation")
        mapped = org if self.organisation_values is None else _lookup(org, self.organisation_values)
        raw = raw.with_columns(
            pl.when(org.is_null())
            .then(pl.lit(self.organisation_id, pl.Utf8))
            .otherwise(mapped)
            .alias("org__v"),
            pl.lit(0, pl.Int64).alias("pos"),
        )
        row_checks: list[tuple[pl.Expr, str, str, pl.Expr]] = [
            (
                pl.any_horizontal(
                    pl.col(c).str.contains("\x00", literal=True) for c in HISTORY_FIELDS
                ),
                "history",
                "nul_character",
                pl.lit("the row holds a NUL character, which cannot be stored"),
            ),
            (
                pl.col("ticket_ref").is_null(),
                "ticket_ref",
                "missing_reference",
                pl.lit("missing ticket reference"),
            ),
            (
                pl.lit(self.organisation_values is not None)
                & org.is_not_null()
                & pl.col("org__v").is_null(),
                "organisation",
                "unmapped_organisation",
                pl.format(
                    "organisation '{}' is not in the organisation value mapping of this "
                    "upload's organisation and source system",
                    org,
                ),
            ),
            (
                pl.col("org__v").is_null() & org.is_null(),
                "organisation",
                "missing_organisation",
                pl.lit("no organisation in the row and none given for the upload"),
            ),
        ]
        frames = [
            raw.filter(cond.fill_null(False)).select(
                "source_row",
                pl.lit(i, pl.Int32).alias("check"),
                pl.lit(column, pl.Utf8).alias("column"),
                pl.lit(code).alias("code"),
                msg.cast(pl.Utf8).alias("message"),
                pl.lit("error").alias("severity"),
            )
            for i, (cond, column, code, msg) in enumerate(row_checks)
        ]
        events, event_issues = normalise_events(
            raw.select("source_row", "pos", "kind", "at", "value", "end_at"),
            self.profile,
            column="history",
            ticket_bounds=False,
            numbered=False,
        )
        issues_df = pl.concat([*frames, event_issues]).sort("source_row", "check")
        issues = [
            RowIssue(r["source_row"], r["column"], r["code"], r["message"], r["severity"])
            for r in issues_df.iter_rows(named=True)
        ]
        rejected = issues_df["source_row"].unique()
        rows = (
            events.filter(~pl.col("source_row").is_in(rejected.implode()))
            .join(
                raw.select("source_row", pl.col("org__v").alias("organisation_id"), "ticket_ref"),
                on="source_row",
            )
            .select(list(HISTORY_SCHEMA))
            .cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
        )
        self.stats.rows_rejected += count - rows.height
        self.stats.rows_accepted += rows.height
        return ParsedBatch(rows, sorted([*early, *issues], key=lambda i: i.row))
