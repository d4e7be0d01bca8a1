"""A small, deterministic SVG writer for charts: a light element tree written out as text
by :func:`serialize` (every attribute and text escaped exactly as ElementTree would, with
the same byte output), geometry rounded to two places, ids derived from the chart's key
(never random), so the same input gives the same bytes.

Why not ElementTree itself: the committee pack draws its charts on every render, and
``ET.tostring`` (namespace scan, per-node dispatch, a StringIO) cost about two thirds of
the drawing; the tree below keeps only what the charts use — tag, attributes in order,
text, children — and writes it in one pass.

Why hand-written rather than a plotting library: the charts are four simple shapes, and what
the pack needs from them is the part libraries do worst: ``role="img"``, ``<title>`` and
``<desc>`` wired with ``aria-labelledby``, text kept as ``<text>`` (matplotlib writes glyph
paths unless ``svg.fonttype='none'``, and then still needs its output rewritten for the
roles, ids and hatching), stable ids when several charts share one HTML page, and byte-for-
byte repeatable output (matplotlib stamps dates and random ids unless told not to).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
INK = "#1a1a1a"  # text and axes: 17.4:1 on white
MUTED = "#4d4d4d"  # tick labels: 8.5:1 on white
GRID = "#d9d9d9"  # decorative grid lines (no contrast needed: values are labelled)


@dataclass(frozen=True)
class SeriesStyle:
    """How one series is told apart without colour: a fill pattern, a line dash and a
    marker shape, on top of a colour with at least 4.5:1 contrast against white."""

    colour: str
    pattern: str  # solid | hatch | cross | dots
    dash: str | None  # stroke-dasharray for lines
    marker: str  # circle | square | triangle | diamond


# Colours chosen for >= 4.5:1 against white (text-grade, so also fine as graphics at 3:1)
# and distinguishable in the common colour-vision deficiencies; patterns and markers carry
# the distinction on their own in greyscale print.
STYLES: tuple[SeriesStyle, ...] = (
    SeriesStyle("#1f4e8c", "solid", None, "circle"),  # dark blue, 8.1:1
    SeriesStyle("#a8251b", "hatch", "6 3", "square"),  # dark red, 6.9:1
    SeriesStyle("#1b6e34", "cross", "2 3", "triangle"),  # dark green, 6.3:1
    SeriesStyle("#6a3d9a", "dots", "8 3 2 3", "diamond"),  # purple, 7.9:1
    SeriesStyle("#8a4b08", "hatch", "4 4", "circle"),  # brown, 6.7:1
)


def style(index: int) -> SeriesStyle:
    return STYLES[index % len(STYLES)]


_INF = float("inf")


def fmt(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (deterministic)."""
    if value.__class__ is int:  # a whole number of pixels (most bar edges and ticks)
        return str(value)
    whole = int(value) if value == value and value not in (_INF, -_INF) else None
    if whole is not None and whole == value:
        return str(whole)  # -0.0 too: "0"
    text = f"{value:.2f}"
    if text[-1] != "0":  # "1.25" (and "nan", "inf"): nothing to strip
        return text
    text = text.rstrip("0").rstrip(".")  # "1.50" -> "1.5", "12.00" -> "12"
    return "0" if text == "-0" else text


def slug(key: str) -> str:
    return "chart-" + re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")


class Element:
    """One SVG element: tag, attributes (written in insertion order), text and children.
    ``set`` mirrors ElementTree's so drawing code can add attributes after the fact."""

    __slots__ = ("attrib", "children", "tag", "text")

    def __init__(self, tag: str, attrib: dict[str, str], text: str | None = None) -> None:
        self.tag = tag
        self.attrib = attrib
        self.text = text
        # Children: elements, or elements already written as markup (``Svg.text``/``line``).
        self.children: list[Element | str] = []

    def set(self, key: str, value: str) -> None:
        self.attrib[key] = value

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.attrib.get(key, default)


def sub(parent: Element, tag: str, attrib: dict[str, str], text: str | None = None) -> Element:
    element = Element(tag, attrib, text)
    parent.children.append(element)
    return element


def escape_text(text: str) -> str:
    """Character data escaped as ElementTree escapes it (``&``, ``<``, ``>``)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def escape_attribute(text: str) -> str:
    """An attribute value escaped as ElementTree escapes it (also ``"`` and CR/LF/TAB as
    character references, so they survive attribute-value normalisation)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "\n" in text:
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#09;")
    return text


# Any character an attribute value or text would need escaped: one scan per element finds
# the common case (numbers, colours, plain names) with nothing to escape.
_SPECIAL = re.compile('[&<>"\r\n\t]').search


def _write(element: Element, out: list[str]) -> None:
    attrib = element.attrib
    if _SPECIAL("".join(attrib.values())) is None:
        attrs = "".join([f' {key}="{value}"' for key, value in attrib.items()])
    else:
        attrs = "".join([f' {key}="{escape_attribute(value)}"' for key, value in attrib.items()])
    text = element.text
    children = element.children
    if not text and not children:
        out.append(f"<{element.tag}{attrs} />")
        return
    out.append(f"<{element.tag}{attrs}>")
    if text:
        out.append(escape_text(text))
    for child in children:
        if isinstance(child, str):
            out.append(child)
        else:
            _write(child, out)
    out.append(f"</{element.tag}>")


def _markup(tag: str, attrib: dict[str, str], text: str | None = None) -> str:
    """One childless element written at once (what :func:`_write` gives for it)."""
    out: list[str] = []
    _write(Element(tag, attrib, text), out)
    return out[0] if len(out) == 1 else "".join(out)


def serialize(element: Element) -> str:
    """``element`` as XML text, byte for byte what ``ET.tostring(…, encoding="unicode")``
    gives for the same tree (empty elements as ``<tag … />``)."""
    out: list[str] = []
    _write(element, out)
    return "".join(out)


class Svg:
    """An ``<svg role="img">`` with its ``<title>`` and ``<desc>`` (named by
    ``aria-labelledby``) and a ``<defs>`` for the fill patterns its series use."""

    def __init__(self, key: str, title: str, description: str, width: float, height: float):
        self.id = slug(key)
        self.width = width
        self.height = height
        self.root = Element(
            "svg",
            {
                "xmlns": SVG_NS,
                "id": self.id,
                "class": "chart",
                "role": "img",
                "aria-labelledby": f"{self.id}-title {self.id}-desc",
                "viewBox": f"0 0 {fmt(width)} {fmt(height)}",
                "width": fmt(width),
                "height": fmt(height),
                "font-family": FONT,
                "font-size": "12",
            },
        )
        sub(self.root, "title", {"id": f"{self.id}-title"}, title)
        sub(self.root, "desc", {"id": f"{self.id}-desc"}, description)
        self.defs = sub(self.root, "defs", {})
        self._patterns: set[int] = set()
        # Everything drawn is presentation: the chart's name and description are its text
        # alternative, and the tables beside it hold every figure.
        self.body = sub(self.root, "g", {})

    def fill(self, index: int) -> str:
        """The fill for series ``index``: its colour, or a pattern of it on white."""
        s = style(index)
        if s.pattern == "solid":
            return s.colour
        pid = f"{self.id}-fill-{index}"
        if index not in self._patterns:
            self._patterns.add(index)
            pattern = sub(
                self.defs,
                "pattern",
                {"id": pid, "patternUnits": "userSpaceOnUse", "width": "6", "height": "6"},
            )
            sub(pattern, "rect", {"width": "6", "height": "6", "fill": "#ffffff"})
            line = {"stroke": s.colour, "stroke-width": "1.6", "fill": "none"}
            if s.pattern in ("hatch", "cross"):
                sub(pattern, "path", {"d": "M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2", **line})
            if s.pattern == "cross":
                sub(pattern, "path", {"d": "M-1,5 l2,2 M0,0 l6,6 M5,-1 l2,2", **line})
            if s.pattern == "dots":
                sub(pattern, "circle", {"cx": "3", "cy": "3", "r": "1.5", "fill": s.colour})
        return f"url(#{pid})"

    def add(
        self,
        tag: str,
        attrs: dict[str, str],
        text: str | None = None,
        parent: Element | None = None,
    ) -> Element:
        return sub(self.body if parent is None else parent, tag, attrs, text)

    def shape(self, tag: str, attrs: dict[str, str]) -> None:
        """A childless element that is never changed afterwards, written at once."""
        if _SPECIAL("".join(attrs.values())) is None:
            written = "".join([f' {key}="{value}"' for key, value in attrs.items()])
            self.body.children.append(f"<{tag}{written} />")
        else:
            self.body.children.append(_markup(tag, attrs))

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        anchor: str = "start",
        size: int = 12,
        weight: str | None = None,
        colour: str = INK,
        cls: str | None = None,
        rotate: float | None = None,
        data: dict[str, str] | None = None,
    ) -> None:
        """A ``<text>``; ``data`` adds attributes (``data-*``) after the others."""
        xs, ys = fmt(x), fmt(y)
        extra = "" if anchor == "start" else f' text-anchor="{anchor}"'
        if weight:
            extra += f' font-weight="{weight}"'
        if cls:
            extra += f' class="{cls}"'
        if rotate is not None:
            extra += f' transform="rotate({fmt(rotate)} {xs} {ys})"'
        if data:
            extra += "".join([f' {key}="{value}"' for key, value in data.items()])
        given = colour + anchor + (weight or "") + (cls or "")
        if data:
            given += "".join(data.values())
        if _SPECIAL(given) is not None:  # rare: written the careful way
            attrs = {"x": xs, "y": ys, "fill": colour, "font-size": str(size)}
            if anchor != "start":
                attrs["text-anchor"] = anchor
            if weight:
                attrs["font-weight"] = weight
            if cls:
                attrs["class"] = cls
            if rotate is not None:
                attrs["transform"] = f"rotate({fmt(rotate)} {xs} {ys})"
            if data:
                attrs.update(data)
            self.body.children.append(_markup("text", attrs, content))
            return
        start = f'<text x="{xs}" y="{ys}" fill="{colour}" font-size="{size}"{extra}'
        self.body.children.append(
            f"{start}>{escape_text(content)}</text>" if content else f"{start} />"
        )

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        colour: str,
        width: float = 1,
        dash: str | None = None,
    ) -> None:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        if _SPECIAL(colour + (dash or "")) is not None:  # rare: written the careful way
            attrs = {
                "x1": fmt(x1),
                "y1": fmt(y1),
                "x2": fmt(x2),
                "y2": fmt(y2),
                "stroke": colour,
                "stroke-width": fmt(width),
            }
            if dash:
                attrs["stroke-dasharray"] = dash
            self.body.children.append(_markup("line", attrs))
            return
        self.body.children.append(
            f'<line x1="{fmt(x1)}" y1="{fmt(y1)}" x2="{fmt(x2)}" y2="{fmt(y2)}" '
            f'stroke="{colour}" stroke-width="{fmt(width)}"{dashed} />'
        )

    def marker(self, shape: str, x: float, y: float, colour: str, size: float = 4.5) -> Element:
        common = {"fill": colour, "stroke": "#ffffff", "stroke-width": "1"}
        if shape == "circle":
            return self.add("circle", {"cx": fmt(x), "cy": fmt(y), "r": fmt(size), **common})
        if shape == "square":
            s = size * 0.9
            return self.add(
                "rect",
                {
                    "x": fmt(x - s),
                    "y": fmt(y - s),
                    "width": fmt(2 * s),
                    "height": fmt(2 * s),
                    **common,
                },
            )
        if shape == "triangle":
            s = size * 1.2
            points = [(x, y - s), (x + s, y + s * 0.8), (x - s, y + s * 0.8)]
        else:  # diamond
            s = size * 1.25
            points = [(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
        return self.add(
            "polygon", {"points": " ".join(f"{fmt(a)},{fmt(b)}" for a, b in points), **common}
        )

    def tostring(self) -> str:
        return serialize(self.root)


def nice_ticks(low: Decimal, high: Decimal, target: int = 5) -> list[Decimal]:
    """Round axis ticks (steps of 1, 2, 2.5 or 5 × 10^k) covering ``low``…``high``,
    as exact Decimals so their labels never show float noise."""
    if high <= low:
        high = low + 1
    span = high - low
    raw = span / target
    exponent = raw.adjusted()
    base = Decimal(10) ** exponent
    step = base
    for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if base * m >= raw:
            step = base * m
            break
    start = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks = [start]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return [_plain(t) for t in ticks]


def _plain(value: Decimal) -> Decimal:
    """A tick without exponent notation or float noise: 60, 2.5, 0.25 (never 6E+1)."""
    if value == value.to_integral_value():
        return Decimal(int(value))
    return value.normalize()


def legend(svg: Svg, x: float, y: float, items: Sequence[tuple[str, str, str]]) -> float:
    """Legend entries ``(kind, index-or-colour, label)`` in a row from ``x``; kind is
    ``fill`` (a swatch of series ``index``), ``line`` (its line and marker) or ``target``
    (a dashed black line). Wraps to a new row at the chart's width; returns the y below."""
    cursor, row = x, y
    for kind, ref, label in items:
        width = 22 + 6.6 * len(label) + 18
        if cursor + width > svg.width - 10 and cursor > x:
            cursor, row = x, row + 20
        if kind == "fill":
            index = int(ref)
            svg.shape(
                "rect",
                {
                    "x": fmt(cursor),
                    "y": fmt(row - 11),
                    "width": "14",
                    "height": "14",
                    "fill": svg.fill(index),
                    "stroke": style(index).colour,
                    "stroke-width": "1.2",
                },
            )
        elif kind == "line":
            index = int(ref)
            s = style(index)
            svg.line(cursor - 2, row - 4, cursor + 16, row - 4, s.colour, 2.5, s.dash)
            svg.marker(s.marker, cursor + 7, row - 4, s.colour)
        else:
            svg.line(cursor - 2, row - 4, cursor + 16, row - 4, INK, 2, "6 3")
        svg.text(cursor + 22, row, label)
        cursor += width
    return row + 14
