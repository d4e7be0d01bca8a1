"""The content-security policy's fast search for inline styles (UTF-8 bytes, lower-cased)
finds exactly what the case-insensitive str patterns find."""

from __future__ import annotations

import random
import re
import sys

import pytest

from shared import page_headers as ph


def _slow(html: str) -> tuple[list[str], list[tuple[str, str]]]:
    return ph._STYLE_ELEMENT.findall(html), ph._STYLE_ATTRIBUTE.findall(html)


def test_bytes_whitespace_is_exactly_str_whitespace() -> None:
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code < 0xE000:
            continue
        char = chr(code)
        expected = re.fullmatch(r"\s", char) is not None
        assert (re.fullmatch(ph._WS, char.encode()) is not None) == expected, hex(code)


@pytest.mark.parametrize(
    "html",
    [
        "",
        'style="a"',
        ' <p STYLE = "x:Y">',
        ' Style=\'a"b\' \tsTyLe="" style= x style="q',
        'xstyle="a style="b"',
        'İ style="a" ſtyle="b" \u00a0style="c"\u3000style="d"',
        "<STYLE media=print>x</Style><style>y\u3000</style>",
        '\ud800 style="a"',
    ],
)
def test_fast_search_matches_the_str_patterns(html: str) -> None:
    assert ph._style_sources(html) == _slow(html)
    assert ph.inline_style_policy(html)  # never fails on odd input


def test_fast_search_matches_on_random_text() -> None:
    rng = random.Random(11)
    alphabet = list(" \t\n\"'=sStTyYlLeEİſ<>/x\u00a0\u2029\u3000\x85ß€")
    for _ in range(20_000):
        html = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert ph._style_sources(html) == _slow(html), repr(html)
