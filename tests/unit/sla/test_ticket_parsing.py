from __future__ import annotations

import codecs
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from services.ingest.tickets.parsing import (
    FileFormatError,
    RowIssue,
    StreamDecoder,
    TicketFileParser,
    parse_tickets,
)
from services.ingest.tickets.profiles import (
    JIRA_SERVICE_MANAGEMENT,
    PROFILES,
    SERVICENOW,
    TOPDESK,
    custom_profile,
)

HEADER = "number,priority,opened_at,resolved_at,state,assignment_group,close_code,category\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def run(
    data: bytes, profile: Any = SERVICENOW, **kw: Any
) -> tuple[pl.DataFrame, list[RowIssue], Any]:
    batches, stats = parse_tickets(io.BytesIO(data), profile, organisation_id="o1", **kw)
    rows = pl.concat([b.rows for b in batches])
    issues = [i for b in batches for i in b.issues]
    return rows, issues, stats


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- encodings ------------------------------------------------------------------------


def test_windows_1252_pound_and_curly_apostrophe() -> None:
    text = HEADER + "INC1,1 - Critical,05/03/2021 17:30,,2,Council’s desk,,Cost £5\n"
    rows, issues, stats = run(text.encode("cp1252"))
    assert stats.encoding == "cp1252"
    assert rows["team"].to_list() == ["Council’s desk"]
    assert issues == []


def test_cp1252_detected_after_long_ascii_prefix_in_small_chunks() -> None:
    body = "".join(f"INC{i},3 - Moderate,05/03/2021 09:00,,2,Desk,,x\n" for i in range(500))
    text = HEADER + body + "INC999,3 - Moderate,05/03/2021 09:00,,2,£ team’s,,x\n"
    parser = TicketFileParser(SERVICENOW, organisation_id="o1", batch_size=128)
    batches = list(parser.parse(chunked(text.encode("cp1252"), 7)))
    rows = pl.concat([b.rows for b in batches])
    assert len(batches) == 4
    assert parser.stats.encoding == "cp1252"
    assert rows.height == 501
    assert rows["team"].to_list()[-1] == "£ team’s"


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        (lambda s: s.encode("utf-8"), "utf-8"),
        (lambda s: codecs.BOM_UTF8 + s.encode("utf-8"), "utf-8-sig"),
    ],
)
def test_utf8_with_and_without_bom(encode: Any, expected: str) -> None:
    text = HEADER + "INC1,1 - Critical,05/03/2021 17:30,,2,Council’s £ desk,,x\n"
    rows, _, stats = run(encode(text))
    assert stats.encoding == expected
    assert rows["team"].to_list() == ["Council’s £ desk"]
    assert rows["ticket_ref"].to_list() == ["INC1"]  # BOM not glued to the first header


def test_utf8_multibyte_split_across_chunks() -> None:
    data = ("a’b£c" * 10).encode("utf-8")
    dec = StreamDecoder()
    text = "".join(dec.decode(c) for c in chunked(data, 1)) + dec.finish()
    assert text == "a’b£c" * 10
    assert dec.encoding == "utf-8"


def test_invalid_utf8_after_utf8_is_replaced_and_counted() -> None:
    dec = StreamDecoder()
    text = dec.decode("£ ok\n".encode()) + dec.decode(b"x\x92y") + dec.finish()
    assert text == "£ ok\nx\ufffdy"
    assert dec.encoding == "utf-8"
    assert dec.replaced == 1


# --- validation -------------------------------------------------------------------------


def test_bad_rows_reported_by_row_while_good_rows_pass() -> None:
    text = HEADER + "".join(
        [
            "INC1,1 - Critical,05/03/2021 17:30,08/03/2021 09:30,6,Desk,Solved,Email\n",  # row 2
            "INC2,2 - High,35/03/2021 17:30,,2,Desk,,Email\n",  # row 3 bad logged date
            "INC3,2 - High,05/03/2021 17:30,yesterday,6,Desk,,Email\n",  # row 4 bad resolved
            "INC4,9 - Urgent,05/03/2021 17:30,,2,Desk,,Email\n",  # row 5 unknown priority
            "INC5,2 - High,05/03/2021 17:30,04/03/2021 10:00,6,Desk,,Email\n",  # row 6 kept
            ",2 - High,05/03/2021 17:30,,2,Desk,,Email\n",  # row 7 missing reference
            "INC1,2 - High,05/03/2021 17:30,08/03/2021 09:30,6,Desk,Solved,Email\n",  # row 8
            "INC6,3 - Moderate,2021-03-05T17:30:00Z,,2,Desk,,Email\n",  # row 9 good
            "INC6,3 - Moderate,2021-03-05T17:30:00Z,,2,Desk,,Email\n",  # row 10 identical
        ]
    )
    rows, issues, stats = run(text.encode())
    assert rows["ticket_ref"].to_list() == ["INC1", "INC5", "INC6"]
    assert rows["source_row"].to_list() == [2, 6, 9]
    errors = [(i.row, i.column, i.code) for i in issues if i.severity == "error"]
    assert errors == [
        (3, "logged_at", "unparseable_date"),
        (4, "resolved_at", "unparseable_date"),
        (5, "priority", "unknown_priority"),
        (7, "ticket_ref", "missing_reference"),
        (8, "ticket_ref", "duplicate_conflict"),
    ]
    dup = next(i for i in issues if i.code == "duplicate_conflict")
    assert dup.related_row == 2
    assert "rows 2 and 8" in dup.message
    warnings = [(i.row, i.code) for i in issues if i.severity == "warning"]
    assert warnings == [(6, "resolved_before_logged")]
    assert rows.filter(pl.col("ticket_ref") == "INC5")["flag_resolved_before_logged"].to_list() == [
        True
    ]
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected, stats.duplicates_merged) == (
        9,
        3,
        5,
        1,
    )


def test_duplicates_detected_across_batches() -> None:
    text = HEADER + "".join(
        [
            "INC1,1 - Critical,05/03/2021 17:30,,2,Desk,,x\n",
            "INC2,1 - Critical,05/03/2021 17:30,,2,Desk,,x\n",
            "INC1,1 - Critical,05/03/2021 17:30,,2,Desk,,x\n",
            "INC2,1 - Critical,05/03/2021 17:31,,2,Desk,,x\n",
        ]
    )
    rows, issues, stats = run(text.encode(), batch_size=2)
    assert rows["ticket_ref"].to_list() == ["INC1", "INC2"]
    assert [(i.row, i.related_row) for i in issues] == [(5, 3)]
    assert stats.duplicates_merged == 1


def test_missing_priority_kept_with_warning_and_values_mapped() -> None:
    text = (
        HEADER
        + "INC1,,05/03/2021 17:30:15,,3,Desk,,x\nINC2,5 - Planning,05/03/2021 17:30,,7,Desk,,x\n"
    )
    rows, issues, _ = run(text.encode())
    assert rows["priority"].to_list() == [None, "P4"]
    assert rows["status"].to_list() == ["on_hold", "closed"]
    assert rows["type"].to_list() == ["incident", "incident"]
    assert rows["logged_at"].to_list() == [utc(2021, 3, 5, 17, 30, 15), utc(2021, 3, 5, 17, 30)]
    assert [(i.row, i.code, i.severity) for i in issues] == [(2, "no_priority", "warning")]


def test_missing_required_column_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="logged_at"):
        run(b"number,priority\nINC1,1\n")


# --- dates and the clock change -----------------------------------------------------------


def test_dates_formats_and_dst_gap_and_overlap_flagged() -> None:
    text = HEADER + "".join(
        [
            "A,1,05/03/2021 17:30,05/06/2021 17:30:00,6,D,,x\n",  # GMT, BST
            "B,1,28/03/2021 01:30,31/10/2021 01:30,6,D,,x\n",  # gap, overlap
            "C,1,2021-03-28T01:30:00+00:00,2021-10-31T01:30:00Z,6,D,,x\n",  # explicit: no flags
            "D,1,2021-06-05 17:30:00,2021-06-05T18:30:00.250+01:00,6,D,,x\n",
        ]
    )
    rows, issues, _ = run(text.encode())
    assert rows["logged_at"].to_list() == [
        utc(2021, 3, 5, 17, 30),
        utc(2021, 3, 28, 1, 30),  # 01:30 local does not exist → 02:30 BST = 01:30 UTC
        utc(2021, 3, 28, 1, 30),
        utc(2021, 6, 5, 16, 30),
    ]
    assert rows["resolved_at"].to_list() == [
        utc(2021, 6, 5, 16, 30),
        utc(2021, 10, 31, 0, 30),  # first (BST) 01:30
        utc(2021, 10, 31, 1, 30),
        datetime(2021, 6, 5, 17, 30, 0, 250000, tzinfo=UTC),
    ]
    assert rows["flag_dst_gap"].to_list() == [False, True, False, False]
    assert rows["flag_dst_ambiguous"].to_list() == [False, True, False, False]
    assert [(i.row, i.column, i.code) for i in issues] == [
        (3, "logged_at", "dst_gap"),
        (3, "resolved_at", "dst_ambiguous"),
    ]
    assert all(i.severity == "warning" for i in issues)


# --- JSON lines and profiles -------------------------------------------------------------


def test_jsonl_nested_topdesk_records() -> None:
    recs = [
        {
            "number": "I 2103 001",
            "callDate": "2021-03-05T17:30:00.000+0000",
            "completedDate": "2021-03-08T09:30:00.000+0000",
            "priority": {"name": "P2"},
            "processingStatus": {"name": "Completed"},
            "operatorGroup": {"name": "Desk"},
            "callType": {"name": "Incident"},
            "branch": {"name": "Borough"},
        },
        {"number": "I 2103 002", "callDate": "not a date", "priority": {"name": "P2"}},
    ]
    data = ("\n".join(json.dumps(r) for r in recs) + "\n{oops\n").encode()
    rows, issues, _ = run(data, TOPDESK, file_format="jsonl")
    assert rows.select("organisation_id", "ticket_ref", "priority", "status", "team").rows() == [
        ("Borough", "I 2103 001", "P2", "resolved", "Desk")
    ]
    assert rows["resolved_at"].to_list() == [utc(2021, 3, 8, 9, 30)]
    assert [(i.row, i.code) for i in issues] == [(2, "unparseable_date"), (3, "invalid_json")]


def test_jira_csv_export_dates_and_priorities() -> None:
    text = (
        "Issue key,Issue Type,Priority,Status,Created,Resolved\n"
        "ITSM-1,Service Request,Highest,Resolved,05/Mar/21 5:30 PM,08/Mar/21 9:30 AM\n"
    )
    rows, issues, _ = run(text.encode(), JIRA_SERVICE_MANAGEMENT)
    assert issues == []
    assert rows.select("type", "priority", "status").row(0) == ("request", "P1", "resolved")
    assert rows["logged_at"].to_list() == [utc(2021, 3, 5, 17, 30)]


def test_custom_mapping_with_value_maps() -> None:
    profile = custom_profile(
        {
            "Ref": "ticket_ref",
            "Urgency": "priority",
            "Opened": "logged_at",
            "Kind": "type",
            "Council": "organisation",
        },
        priority_map={"1 - Critical": "P1", "Sev0": "P0"},
        type_map={"Fault": "incident", "Ask": "request"},
    )
    text = (
        "Ref,Urgency,Opened,Kind,Council\n"
        "R1,Sev0,05/03/2021 09:00,Fault,\n"
        "R2,1 - Critical,05/03/2021 09:00,Ask,Other\n"
        "R3,1 - Critical,05/03/2021 09:00,Chat,\n"
    )
    rows, issues, _ = run(text.encode(), profile, source_system="homegrown")
    assert rows.select(
        "organisation_id", "ticket_ref", "priority", "type", "source_system"
    ).rows() == [
        ("o1", "R1", "P0", "incident", "homegrown"),
        ("Other", "R2", "P1", "request", "homegrown"),
    ]
    assert [(i.row, i.code) for i in issues] == [(4, "unknown_type")]
    with pytest.raises(ValueError, match="priority map"):
        custom_profile({"Ref": "ticket_ref"}, priority_map={"x": "P9"})


def test_all_profiles_map_required_fields() -> None:
    assert set(PROFILES) == {
        "servicenow",
        "topdesk",
        "ivanti",
        "hornbill",
        "freshservice",
        "jira_service_management",
        "tmf621",
    }
    for p in PROFILES.values():
        assert p.columns["ticket_ref"] and p.columns["logged_at"]


# --- record boundaries ----------------------------------------------------------------------


def test_quoted_line_breaks_blank_and_ragged_rows_keep_spreadsheet_row_numbers() -> None:
    text = HEADER + (
        'INC1,1,05/03/2021 17:30,,2,"Desk\nsecond line",,x\r\n'  # row 2 (two lines)
        "\r\n"  # row 3 blank
        "  \n"  # row 4 blank
        "INC2,1,05/03/2021 17:30\n"  # row 5 too few fields
        "INC3,1,05/03/2021 17:30,,2,D,,x,extra\n"  # row 6 too many
        ",,,,,,,\n"  # row 7 empty fields only
        'INC4,1,05/03/2021 17:30,,2,"say ""hi""",,x'  # row 8, no final newline
    )
    # Chunks of 5 bytes split quoted fields and \r\n pairs across reads.
    parser = TicketFileParser(SERVICENOW, organisation_id="o1", batch_size=1)
    batches = list(parser.parse(chunked(text.encode(), 5)))
    rows = pl.concat([b.rows for b in batches])
    assert rows.select("source_row", "ticket_ref", "team").rows() == [
        (2, "INC1", "Desk\nsecond line"),
        (8, "INC4", 'say "hi"'),
    ]
    assert [(i.row, i.code, i.message) for b in batches for i in b.issues] == [
        (5, "column_count", "3 fields where the header has 8"),
        (6, "column_count", "9 fields where the header has 8"),
    ]
    s = parser.stats
    assert (s.rows_read, s.rows_accepted, s.rows_rejected) == (4, 2, 2)


def test_many_batches_duplicates_against_first_occurrence() -> None:
    body = "".join(f"INC{i % 50},1,05/03/2021 09:00,,2,Desk,,x\n" for i in range(300))
    body += "INC7,1,05/03/2021 09:01,,2,Desk,,x\n"  # row 302 conflicts with row 9
    rows, issues, stats = run((HEADER + body).encode(), batch_size=37)
    assert rows.height == 50
    assert rows["source_row"].to_list() == list(range(2, 52))
    assert [(i.row, i.related_row, i.code) for i in issues] == [(302, 9, "duplicate_conflict")]
    assert (stats.rows_read, stats.rows_accepted, stats.duplicates_merged) == (301, 50, 250)


# --- line ends, encodings and damaged files (issue 9, items 4 and 5) ---------------------

ROWS3 = [
    "INC1,1 - Critical,05/03/2021 17:30,,2,Desk,,x",
    'INC2,2 - High,05/03/2021 17:31,,2,"Two\r\nlines",,x',
    "INC3,3 - Moderate,05/03/2021 17:32,,2,Desk,,x",
]


@pytest.mark.parametrize("size", [1, 2, 5, 1 << 20])
@pytest.mark.parametrize(
    "ends",
    [["\n"] * 4, ["\r\n"] * 4, ["\r"] * 4, ["\r", "\r\n", "\n", "\r"], ["\r\n", "\r", "\r", ""]],
)
def test_cr_lf_and_crlf_line_ends_in_any_mix_and_any_read_size(ends: list[str], size: int) -> None:
    lines = [HEADER.rstrip("\n"), *ROWS3]
    text = "".join(line + end for line, end in zip(lines, ends, strict=True))
    parser = TicketFileParser(SERVICENOW, organisation_id="o1")
    batches = list(parser.parse(chunked(text.encode(), size)))
    rows = pl.concat([b.rows for b in batches])
    assert rows.select("source_row", "ticket_ref").rows() == [(2, "INC1"), (3, "INC2"), (4, "INC3")]
    assert rows["team"].to_list() == ["Desk", "Two\r\nlines", "Desk"]  # CRLF inside quotes kept
    assert [i for b in batches for i in b.issues] == []


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("size", [1, 3, 4096])
def test_utf16_with_bom_read_in_any_read_size(codec: str, size: int) -> None:
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    text = HEADER + "INC1,1 - Critical,05/03/2021 17:30,,2,Council’s £ desk 🎫,,x\r\n"
    parser = TicketFileParser(SERVICENOW, organisation_id="o1")
    batches = list(parser.parse(chunked(bom + text.encode(codec), size)))
    rows = pl.concat([b.rows for b in batches])
    assert rows["team"].to_list() == ["Council’s £ desk 🎫"]  # a surrogate pair split too
    assert parser.stats.encoding == codec
    assert parser.stats.replaced_characters == 0


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (HEADER.encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        (HEADER.encode("utf-16-be"), "UTF-16 text without a byte-order mark"),
        (HEADER.encode("utf-32"), "UTF-32"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"x" * 100, "Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"x" * 100, "old-style Excel workbook"),
        (b"%PDF-1.7\n" + b"x" * 100, "PDF"),
        (b"\x1f\x8b\x08\x00" + b"x" * 100, "gzip"),
        (HEADER.encode() + b"INC1,\x00\x01\x02", f"a NUL byte at byte {len(HEADER) + 5}"),
        (bytes(range(1, 32)) * 4 + HEADER.encode(), "binary control codes"),
    ],
)
def test_files_that_are_not_text_are_refused_by_name(data: bytes, named: str) -> None:
    with pytest.raises(FileFormatError, match=re.escape(named)):
        run(data)


def test_a_few_control_codes_are_still_text() -> None:
    text = HEADER + "INC1,1 - Critical,05/03/2021 17:30,,2,Desk\x0c,,x\x0b\n"  # FF, VT
    rows, issues, _ = run(text.encode())
    assert rows["ticket_ref"].to_list() == ["INC1"] and issues == []


def test_nul_in_a_cell_after_the_sniffed_start_is_a_row_error() -> None:
    body = "".join(f"INC{i},1 - Critical,05/03/2021 17:30,,2,Desk,,x\n" for i in range(100))
    text = HEADER + body + "INC100,1 - Critical,05/03/2021 17:30,,2,De\x00sk,,x\n"
    rows, issues, _ = run(text.encode())
    assert rows.height == 100
    assert [(i.row, i.code) for i in issues] == [(102, "nul_character")]


LAST = "INC9,2 - High,05/03/2021 17:30,,2,Desk,,Email"  # 8 cells, like HEADER


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (LAST[: LAST.rindex(",") + 1], "its last cell is missing"),  # cut after a separator
        (LAST[: LAST.rindex(",")], "it has 7 of the header's 8 cells"),
        (LAST[:-9], "it has 6 of the header's 8 cells"),
        (LAST[: LAST.rindex(",") + 1] + '"Ema', "inside a quoted cell"),
        (LAST[: LAST.rindex(",") + 1] + '"', "inside a quoted cell"),
        (LAST.replace("Email", "Répar") + "\xc3", "in the middle of a character"),
    ],
)
def test_a_cut_off_last_row_is_a_row_error(tail: str, reason: str) -> None:
    good = "INC1,1 - Critical,05/03/2021 17:30,,2,Desk,,x\n"
    data = (HEADER + good + tail).encode("utf-8", errors="surrogateescape")
    if tail.endswith("\xc3"):
        data = (HEADER + good + tail[:-1]).encode() + b"\xc3"
    rows, issues, stats = run(data)
    assert rows["ticket_ref"].to_list() == ["INC1"]
    assert [(i.row, i.code, i.severity) for i in issues] == [(3, "truncated_row", "error")]
    assert reason in issues[0].message
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (2, 1, 1)


@pytest.mark.parametrize(
    "tail",
    [LAST, LAST + "\n", LAST + "\r\n", LAST[: LAST.rindex(",") + 1] + '""'],
)
def test_a_whole_last_row_without_a_line_break_is_read(tail: str) -> None:
    rows, issues, _ = run((HEADER + tail).encode())
    assert rows["ticket_ref"].to_list() == ["INC9"]
    assert [i for i in issues if i.severity == "error"] == []


def test_a_short_row_is_an_error_not_blanks() -> None:
    text = HEADER + "INC1,1 - Critical,05/03/2021 17:30,,2,Desk\n" + LAST + "\n"
    rows, issues, _ = run(text.encode())
    assert rows["ticket_ref"].to_list() == ["INC9"]
    assert [(i.row, i.code) for i in issues] == [(2, "column_count")]


def test_utf16_cut_inside_a_character_is_a_cut_off_row() -> None:
    data = codecs.BOM_UTF16_LE + (HEADER + LAST).encode("utf-16-le")[:-1]
    rows, issues, stats = run(data)
    assert rows.height == 0
    assert [(i.row, i.code) for i in issues] == [(2, "truncated_row")]
    assert stats.encoding == "utf-16-le"


def test_a_quote_never_closed_fails_the_file_instead_of_reading_it_all(monkeypatch: Any) -> None:
    import services.ingest.tickets.parsing as parsing

    monkeypatch.setattr(parsing, "TEXT_CHUNK", 64)
    monkeypatch.setattr(parsing, "MAX_RECORD_BYTES", 256)
    good = "".join(f"INC{i},1 - Critical,05/03/2021 17:30,,2,Desk,,x\n" for i in range(3))
    stray = 'INC7,1 - Critical,05/03/2021 17:30,,2,5" screen,,x\n'
    data = (HEADER + good + stray + good * 20).encode()
    parser = TicketFileParser(SERVICENOW, organisation_id="o1", batch_size=2)
    with pytest.raises(FileFormatError, match=r"Row 5 runs on for more than 0 MB"):
        list(parser.parse(chunked(data, 16)))


def test_a_row_the_csv_module_cannot_read_is_a_row_error() -> None:
    from services.ingest.tickets.parsing import _CsvChunk, _read_chunk_slow

    data = b'a,"b\nc",d\nx,5" y\nz,w\n'
    import numpy as np

    chunk = _CsvChunk(data, np.array([0, 10]), np.array([9, len(data)]), np.array([3, 3]))
    frame = _read_chunk_slow(chunk, 3, ",")
    assert frame["__bad"].to_list()[0] is None
    assert "new-line character" in frame["__bad"].to_list()[1]


def test_empty_first_line_and_wrong_separator_are_named() -> None:
    with pytest.raises(FileFormatError, match="first line of the file is empty"):
        run(b"\r\n" + HEADER.encode())
    with pytest.raises(FileFormatError, match="separated by ';'"):
        run(HEADER.replace(",", ";").encode())
