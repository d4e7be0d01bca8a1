"""OData query options, pure: parsed and checked against the entity model, then turned into
Polars expressions (for results computed in Polars) or SQLAlchemy clauses (for tables read
page by page from the database), so rows are filtered, ordered and cut before they are read.

``$filter`` is parsed by ``odata-query`` (a maintained OData v4 grammar, on PyPI), which gives
an abstract syntax tree; the two translators below walk that tree. Its own SQLAlchemy
visitor is not used: OData's null rules differ from SQL's (``x ne 5`` is true where ``x`` is
null; a comparison with null is false, so ``not (x gt 5)`` is true there), ``contains`` must
escape ``%`` and ``_``, and literals must be checked against the property's type first so a
mistake is a 400 naming the property, never a database error.

Supported: ``eq ne gt ge lt le in``, ``and or not``, ``contains startswith endswith`` on
strings; literals of strings, numbers, booleans, ``null``, dates (``2021-03-01``) and
date-times with offset (``2021-03-01T00:00:00Z``). Anything else in the grammar
(arithmetic, other functions, lambdas, paths) is a 501 naming it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import polars as pl
from odata_query import ast
from odata_query import exceptions as oq
from odata_query.grammar import ODataLexer, ODataParser
from sqlalchemy import Boolean, and_, false, func, literal, not_, null, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement

from services.metrics.odata.exceptions import NotImplementedOption, ODataError
from services.metrics.odata.schemas import NUMERIC, EntitySet, Prop

Format = Literal["json", "csv", "parquet"]
SUPPORTED = ("$filter", "$select", "$orderby", "$top", "$skip", "$count", "$skiptoken", "$format")
NOT_IMPLEMENTED = (
    "$expand",
    "$apply",
    "$search",
    "$compute",
    "$levels",
    "$index",
    "$schemaversion",
    "$deltatoken",
    "$id",
)
MAX_OPTION_LENGTH = 8000
MAX_TOP = 100_000_000


@dataclass(frozen=True)
class Options:
    """The query options of one request, checked against the entity set."""

    filter: ast._Node | None
    filter_text: str
    select: tuple[str, ...] | None  # None: every property
    orderby: tuple[tuple[str, bool], ...]  # (property, descending), the key appended
    custom_order: bool  # $orderby was given (else the key order: keyset paging works)
    top: int | None
    skip: int
    count: bool
    format: Format
    skiptoken: str | None

    def digest(self, entity_set: str) -> str:
        """What a skiptoken is bound to: the set and every option that shapes the rows."""
        parts = [
            entity_set,
            self.filter_text,
            ",".join(self.select or ()),
            ",".join(f"{p} {int(d)}" for p, d in self.orderby),
            str(self.top),
            str(self.skip),
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


# ------------------------------------------------------------------ parsing


def parse_options(es: EntitySet, params: Sequence[tuple[str, str]]) -> Options:
    """Every query option, or :class:`ODataError` naming the one to fix. An option this
    feed does not implement is a 501 naming it, never ignored."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name in NOT_IMPLEMENTED:
            raise NotImplementedOption(
                f"The {name} query option is not supported by this feed; remove it.",
                target=name,
            )
        if name not in SUPPORTED:
            known = ", ".join(SUPPORTED[:-1])
            what = "system query option" if name.startswith("$") else "query option"
            raise ODataError(
                f"{name!r} is not a {what} of this feed; use {known}.",
                code="unknown_query_option",
                target=name,
            )
        if name in seen:
            raise ODataError(f"{name} is given twice; give it once.", target=name)
        if len(value) > MAX_OPTION_LENGTH:
            raise ODataError(f"{name} is longer than {MAX_OPTION_LENGTH} characters.", target=name)
        seen[name] = value
    filter_text = seen.get("$filter", "").strip()
    tree = parse_filter(es, filter_text) if filter_text else None
    select = _select(es, seen["$select"]) if "$select" in seen else None
    orderby = _orderby(es, seen["$orderby"]) if "$orderby" in seen else ()
    keys = [(k, False) for k in es.key if k not in {p for p, _ in orderby}]
    return Options(
        filter=tree,
        filter_text=filter_text,
        select=select,
        orderby=(*orderby, *keys),
        custom_order=bool(orderby),
        top=_non_negative(seen, "$top"),
        skip=_non_negative(seen, "$skip") or 0,
        count=_count(seen.get("$count")),
        format=_format(seen.get("$format")),
        skiptoken=seen.get("$skiptoken"),
    )


def _unknown_property(es: EntitySet, name: str, option: str) -> ODataError:
    return ODataError(
        f"{name!r} in {option} is not a property of {es.name}; its properties are "
        f"{', '.join(es.columns)}.",
        code="unknown_property",
        target=option,
    )


def _select(es: EntitySet, text: str) -> tuple[str, ...] | None:
    items = [i.strip() for i in text.split(",")]
    if any(not i for i in items):
        raise ODataError(
            "$select has an empty item; list property names with commas.", target="$select"
        )
    if "*" in items:
        return None
    for item in items:
        if "/" in item or "(" in item:
            raise NotImplementedOption(
                f"$select item {item!r}: only property names are supported.", target="$select"
            )
        if item not in es.by_name:
            raise _unknown_property(es, item, "$select")
    return tuple(dict.fromkeys(items))


def _orderby(es: EntitySet, text: str) -> tuple[tuple[str, bool], ...]:
    out: list[tuple[str, bool]] = []
    for raw in text.split(","):
        words = raw.split()
        if not words or len(words) > 2:
            raise ODataError(
                f"$orderby item {raw.strip()!r} is not 'property [asc|desc]'.",
                target="$orderby",
            )
        name = words[0]
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ODataError(
                f"$orderby direction {words[1]!r} must be asc or desc.", target="$orderby"
            )
        if "/" in name or "(" in name:
            raise NotImplementedOption(
                f"$orderby item {name!r}: only property names are supported.", target="$orderby"
            )
        if name not in es.by_name:
            raise _unknown_property(es, name, "$orderby")
        if name not in {p for p, _ in out}:
            out.append((name, direction == "desc"))
    return tuple(out)


def _non_negative(seen: dict[str, str], name: str) -> int | None:
    if name not in seen:
        return None
    text = seen[name].strip()
    if not text.isdigit() or int(text) > MAX_TOP:
        raise ODataError(
            f"{name} must be a whole number from 0 to {MAX_TOP}; got {text!r}.",
            code="invalid_number",
            target=name,
        )
    return int(text)


def _count(value: str | None) -> bool:
    if value is None:
        return False
    if value not in ("true", "false"):
        raise ODataError(f"$count must be true or false; got {value!r}.", target="$count")
    return value == "true"


_FORMATS: dict[str, Format] = {
    "json": "json",
    "application/json": "json",
    "csv": "csv",
    "text/csv": "csv",
    "parquet": "parquet",
    "application/vnd.apache.parquet": "parquet",
}


def _format(value: str | None) -> Format:
    if value is None:
        return "json"
    base = value.split(";")[0].strip().lower()
    if base not in _FORMATS:
        raise ODataError(
            f"$format {value!r} is not offered; use json (pages), csv or parquet (the whole "
            "result in one download).",
            code="unsupported_format",
            target="$format",
        )
    return _FORMATS[base]


# ------------------------------------------------------------------ $filter


def parse_filter(es: EntitySet, text: str) -> ast._Node:
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except oq.TokenizingException as exc:
        token = getattr(exc, "token", None)
        at = getattr(token, "index", None)
        where = f" at character {at + 1}" if isinstance(at, int) else ""
        raise ODataError(
            f"$filter could not be read{where}: check quotes ('text' in single quotes, "
            "'' for a quote inside) and operators (eq, ne, gt, ge, lt, le, in).",
            code="invalid_filter",
            target="$filter",
        ) from None
    except oq.ParsingException as exc:
        token = getattr(exc, "token", None)
        if token is None:
            detail = "it ends too early (an operand or ')' is missing)"
        else:
            snippet = text[token.index : token.index + 20].strip() or "the end"
            detail = f"it breaks off near character {token.index + 1} (at {snippet!r})"
        raise ODataError(
            f"$filter is not a valid OData expression: {detail}.",
            code="invalid_filter",
            target="$filter",
        ) from None
    except (oq.UnknownFunctionException, oq.ArgumentCountException) as exc:
        raise ODataError(f"$filter: {exc}.", code="invalid_filter", target="$filter") from None
    except oq.ODataException as exc:
        raise ODataError(f"$filter: {exc}.", code="invalid_filter", target="$filter") from None
    if tree is None:
        raise ODataError("$filter is empty.", code="invalid_filter", target="$filter")
    _Checker(es).boolean(tree)
    return tree


_LITERAL_FITS: dict[type[ast._Node], frozenset[str]] = {
    ast.String: frozenset({"Edm.String"}),
    ast.Integer: NUMERIC,
    ast.Float: NUMERIC,
    ast.Boolean: frozenset({"Edm.Boolean"}),
    ast.Date: frozenset({"Edm.Date"}),
    ast.DateTime: frozenset({"Edm.DateTimeOffset"}),
}
_COMPARATORS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In)
_STRING_FUNCTIONS = ("contains", "startswith", "endswith")


def _literal_name(node: ast._Node) -> str:
    return {
        ast.String: "a string",
        ast.Integer: "a number",
        ast.Float: "a number",
        ast.Boolean: "true/false",
        ast.Date: "a date",
        ast.DateTime: "a date-time",
        ast.Null: "null",
    }.get(type(node), type(node).__name__)


class _Checker:
    """Types every node against the entity model before anything is translated."""

    def __init__(self, es: EntitySet) -> None:
        self.es = es

    def prop(self, node: ast._Node) -> Prop:
        if isinstance(node, ast.Attribute):
            raise NotImplementedOption(
                "$filter: property paths (a/b) are not supported; the feed's entities are flat.",
                target="$filter",
            )
        assert isinstance(node, ast.Identifier)
        if node.namespace or node.name not in self.es.by_name:
            raise _unknown_property(self.es, node.name, "$filter")
        return self.es.by_name[node.name]

    def literal(self, prop: Prop, node: ast._Node) -> None:
        if isinstance(node, ast.Null):
            return
        fits = _LITERAL_FITS.get(type(node))
        if fits is None:
            raise NotImplementedOption(
                f"$filter: {type(node).__name__} values are not supported.", target="$filter"
            )
        if prop.type not in fits:
            raise ODataError(
                f"$filter compares {prop.name} ({prop.type}) with {_literal_name(node)}; "
                f"give {_expected(prop)}.",
                code="type_mismatch",
                target="$filter",
            )
        try:
            _py(prop, node)
        except (ValueError, OverflowError):
            raise ODataError(
                f"$filter: {getattr(node, 'val', node)!r} is not a valid value for {prop.name}.",
                code="invalid_value",
                target="$filter",
            ) from None

    def operand(self, node: ast._Node) -> bool:
        return isinstance(node, ast.Identifier | ast.Attribute)

    def boolean(self, node: ast._Node) -> None:
        if isinstance(node, ast.BoolOp):
            self.boolean(node.left)
            self.boolean(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.boolean(node.operand)
        elif isinstance(node, ast.Compare):
            self.compare(node)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Identifier | ast.Attribute):
            prop = self.prop(node)
            if prop.type != "Edm.Boolean":
                raise ODataError(
                    f"$filter: {prop.name} is not true/false; compare it with a value "
                    f"(e.g. {prop.name} eq ...).",
                    code="type_mismatch",
                    target="$filter",
                )
        elif isinstance(node, ast.Boolean):
            return
        else:
            raise self.unsupported(node)

    def compare(self, node: ast.Compare) -> None:
        if not isinstance(node.comparator, _COMPARATORS):
            raise self.unsupported(node.comparator)
        left, right = node.left, node.right
        for side in (left, right):
            if isinstance(side, ast.Call):
                raise NotImplementedOption(
                    f"$filter: the function {side.func.name}() is not supported in a "
                    f"comparison; use {', '.join(_STRING_FUNCTIONS)} on strings.",
                    target="$filter",
                )
            if isinstance(side, ast.BinOp | ast.UnaryOp | ast.CollectionLambda):
                raise self.unsupported(side)
        if isinstance(node.comparator, ast.In):
            if not self.operand(left) or not isinstance(right, ast.List):
                raise ODataError(
                    "$filter: use 'property in (value, value, …)'.",
                    code="invalid_filter",
                    target="$filter",
                )
            prop = self.prop(left)
            for item in right.val:
                if isinstance(item, ast.Null):
                    raise ODataError(
                        "$filter: null cannot be in an 'in' list; use 'eq null'.",
                        code="invalid_filter",
                        target="$filter",
                    )
                self.literal(prop, item)
            return
        if self.operand(left) and self.operand(right):
            a, b = self.prop(left), self.prop(right)
            if _family(a) != _family(b):
                raise ODataError(
                    f"$filter compares {a.name} ({a.type}) with {b.name} ({b.type}).",
                    code="type_mismatch",
                    target="$filter",
                )
            return
        if not self.operand(left) and not self.operand(right):
            raise ODataError(
                "$filter: each comparison needs a property on one side.",
                code="invalid_filter",
                target="$filter",
            )
        prop_node, lit = (left, right) if self.operand(left) else (right, left)
        prop = self.prop(prop_node)
        if isinstance(lit, ast.Null) and not isinstance(node.comparator, ast.Eq | ast.NotEq):
            raise ODataError(
                "$filter: null can only be compared with eq or ne.",
                code="invalid_filter",
                target="$filter",
            )
        if prop.type == "Edm.Boolean" and not isinstance(node.comparator, ast.Eq | ast.NotEq):
            raise ODataError(
                f"$filter: {prop.name} is true/false; compare it with eq or ne.",
                code="invalid_filter",
                target="$filter",
            )
        self.literal(prop, lit)

    def call(self, node: ast.Call) -> None:
        name = ".".join((*node.func.namespace, node.func.name))
        if name not in _STRING_FUNCTIONS:
            raise NotImplementedOption(
                f"$filter: the function {name}() is not supported; use "
                f"{', '.join(_STRING_FUNCTIONS)} on strings.",
                target="$filter",
            )
        field, value = node.args
        if not self.operand(field) or not isinstance(value, ast.String):
            raise ODataError(
                f"$filter: use {name}(property, 'text').",
                code="invalid_filter",
                target="$filter",
            )
        prop = self.prop(field)
        if prop.type != "Edm.String":
            raise ODataError(
                f"$filter: {name}() needs a string property; {prop.name} is {prop.type}.",
                code="type_mismatch",
                target="$filter",
            )

    def unsupported(self, node: ast._Node) -> NotImplementedOption:
        if isinstance(node, ast.BinOp):
            what = "arithmetic (add, sub, mul, div, mod)"
        elif isinstance(node, ast.CollectionLambda):
            what = "any/all"
        else:
            what = type(node).__name__
        return NotImplementedOption(f"$filter: {what} is not supported.", target="$filter")


def _family(prop: Prop) -> str:
    return "number" if prop.type in NUMERIC else prop.type


def _expected(prop: Prop) -> str:
    return {
        "Edm.String": "a string in single quotes",
        "Edm.Boolean": "true or false",
        "Edm.Date": "a date such as 2021-03-01 (no quotes)",
        "Edm.DateTimeOffset": "a date-time with offset such as 2021-03-01T00:00:00Z",
    }.get(prop.type, "a number")


def _py(prop: Prop, node: ast._Node) -> Any:
    """A literal as the Python value compared with ``prop``."""
    if isinstance(node, ast.Null):
        return None
    if isinstance(node, ast.DateTime):
        value = datetime.fromisoformat(node.val.replace("Z", "+00:00"))
        if value.tzinfo is None:
            raise ValueError("no offset")
        return value.astimezone(UTC)
    if isinstance(node, ast.Date):
        return date.fromisoformat(node.val)
    if isinstance(node, ast.Integer) and prop.type in ("Edm.Double", "Edm.Decimal"):
        return float(node.val)
    if isinstance(node, ast.Integer) and prop.type == "Edm.Int32" and abs(int(node.val)) > 2**31:
        raise OverflowError(node.val)
    assert isinstance(node, ast._Literal)
    return node.py_val


# ------------------------------------------------------------------ to Polars

_OPS: dict[type[ast._Node], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FLIPPED: dict[type[ast._Node], type[ast._Node]] = {
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}


def _oriented(es: EntitySet, node: ast.Compare) -> tuple[Prop, type[ast._Node], ast._Node]:
    """(property, comparator, other side) with the property on the left."""
    if isinstance(node.left, ast.Identifier):
        return es.by_name[node.left.name], type(node.comparator), node.right
    assert isinstance(node.right, ast.Identifier)
    return es.by_name[node.right.name], _FLIPPED[type(node.comparator)], node.left


class _Translator:
    """One walk of a checked tree, for Polars or SQL. ``strict``: the result must be two-
    valued (under ``not``), so comparisons with a null are false, as OData says."""

    def __init__(self, es: EntitySet) -> None:
        self.es = es

    def boolean(self, node: ast._Node, strict: bool = False) -> Any:
        if isinstance(node, ast.BoolOp):
            left, right = self.boolean(node.left, strict), self.boolean(node.right, strict)
            return self.and_(left, right) if isinstance(node.op, ast.And) else self.or_(left, right)
        if isinstance(node, ast.UnaryOp):
            return self.not_(self.boolean(node.operand, strict=True))
        if isinstance(node, ast.Boolean):
            return self.const(node.py_val)
        if isinstance(node, ast.Identifier):
            return self.definite(self.col(node.name), strict)
        if isinstance(node, ast.Call):
            name = node.func.name
            field, value = node.args
            assert isinstance(field, ast.Identifier) and isinstance(value, ast.String)
            return self.definite(self.string_fn(name, self.col(field.name), value.py_val), strict)
        assert isinstance(node, ast.Compare)
        return self.compare(node, strict)

    def compare(self, node: ast.Compare, strict: bool) -> Any:
        if isinstance(node.comparator, ast.In):
            assert isinstance(node.left, ast.Identifier) and isinstance(node.right, ast.List)
            prop = self.es.by_name[node.left.name]
            values = [_py(prop, v) for v in node.right.val]
            return self.definite(self.in_(self.col(prop.name), values), strict)
        if isinstance(node.left, ast.Identifier) and isinstance(node.right, ast.Identifier):
            a, b = self.col(node.left.name), self.col(node.right.name)
            if isinstance(node.comparator, ast.NotEq):
                return self.distinct(a, b)
            return self.definite(_OPS[type(node.comparator)](a, b), strict)
        prop, op, other = _oriented(self.es, node)
        value = _py(prop, other)
        column = self.col(prop.name)
        if value is None:
            return self.is_null(column) if op is ast.Eq else self.not_(self.is_null(column))
        if op is ast.NotEq:
            return self.distinct(column, self.lit(value, prop))
        return self.definite(_OPS[op](column, self.lit(value, prop)), strict)

    # backend hooks
    def col(self, name: str) -> Any:
        raise NotImplementedError

    def lit(self, value: Any, prop: Prop) -> Any:
        raise NotImplementedError

    def const(self, value: bool) -> Any:
        raise NotImplementedError

    def and_(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def or_(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def not_(self, a: Any) -> Any:
        raise NotImplementedError

    def definite(self, a: Any, strict: bool) -> Any:
        raise NotImplementedError

    def in_(self, column: Any, values: list[Any]) -> Any:
        raise NotImplementedError

    def is_null(self, column: Any) -> Any:
        raise NotImplementedError

    def distinct(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def string_fn(self, name: str, column: Any, text: str) -> Any:
        raise NotImplementedError


class _ToPolars(_Translator):
    def col(self, name: str) -> pl.Expr:
        return pl.col(name)

    def lit(self, value: Any, prop: Prop) -> pl.Expr:
        if prop.type == "Edm.DateTimeOffset":
            return pl.lit(value, dtype=pl.Datetime("us", "UTC"))
        return pl.lit(value)

    def const(self, value: bool) -> pl.Expr:
        return pl.lit(value)

    def and_(self, a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return a & b

    def or_(self, a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return a | b

    def not_(self, a: pl.Expr) -> pl.Expr:
        return ~a

    def definite(self, a: pl.Expr, strict: bool) -> pl.Expr:
        return a.fill_null(False) if strict else a

    def in_(self, column: pl.Expr, values: list[Any]) -> pl.Expr:
        return column.is_in(values)

    def is_null(self, column: pl.Expr) -> pl.Expr:
        return column.is_null()

    def distinct(self, a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return a.ne_missing(b)

    def string_fn(self, name: str, column: pl.Expr, text: str) -> pl.Expr:
        if name == "contains":
            return column.str.contains(text, literal=True)
        if name == "startswith":
            return column.str.starts_with(text)
        return column.str.ends_with(text)


def polars_filter(es: EntitySet, tree: ast._Node) -> pl.Expr:
    """The checked ``$filter`` as a Polars expression (null counts as no match)."""
    expr: pl.Expr = _ToPolars(es).boolean(tree)
    return expr.fill_null(False)


class _ToSql(_Translator):
    def __init__(self, es: EntitySet, columns: dict[str, ColumnElement[Any]]) -> None:
        super().__init__(es)
        self.columns = columns

    def col(self, name: str) -> ColumnElement[Any]:
        return self.columns[name]

    def lit(self, value: Any, prop: Prop) -> Any:
        return literal(value, type_=self.columns[prop.name].type)

    def const(self, value: bool) -> Any:
        return literal(value, Boolean)

    def and_(self, a: Any, b: Any) -> Any:
        return and_(a, b)

    def or_(self, a: Any, b: Any) -> Any:
        return or_(a, b)

    def not_(self, a: Any) -> Any:
        return not_(a)

    def definite(self, a: Any, strict: bool) -> Any:
        return func.coalesce(a, false()) if strict else a

    def in_(self, column: Any, values: list[Any]) -> Any:
        return column.in_(values)

    def is_null(self, column: Any) -> Any:
        return column.is_(null())

    def distinct(self, a: Any, b: Any) -> Any:
        return a.is_distinct_from(b)

    def string_fn(self, name: str, column: Any, text: str) -> Any:
        method = {"contains": "contains", "startswith": "startswith", "endswith": "endswith"}
        return getattr(column, method[name])(text, autoescape=True)


def sql_filter(
    es: EntitySet, tree: ast._Node, columns: dict[str, ColumnElement[Any]]
) -> ColumnElement[bool]:
    """The checked ``$filter`` as a SQLAlchemy clause over ``columns`` (by property)."""
    clause: ColumnElement[bool] = _ToSql(es, columns).boolean(tree)
    return clause


def sql_order(
    es: EntitySet, options: Options, columns: dict[str, ColumnElement[Any]]
) -> list[ColumnElement[Any]]:
    """ORDER BY of the options, nulls first ascending and last descending (as OData). A
    column that is never null gets no NULLS clause, so the key order is the primary key
    index's and a page is read from the index, not sorted from the whole table."""
    out: list[ColumnElement[Any]] = []
    for p, desc in options.orderby:
        column = columns[p]
        if not es.by_name[p].nullable:
            out.append(column.desc() if desc else column.asc())
        else:
            out.append(column.desc().nulls_last() if desc else column.asc().nulls_first())
    return out


def sql_after(
    es: EntitySet, columns: dict[str, ColumnElement[Any]], last: Sequence[Any]
) -> ColumnElement[bool]:
    """Rows after ``last`` in key order (keyset paging; keys are never null)."""
    return tuple_(*(columns[k] for k in es.key)) > tuple_(*(literal(v) for v in last))


def sort_frame(frame: pl.LazyFrame, options: Options) -> pl.LazyFrame:
    if not options.orderby:
        return frame
    names = [p for p, _ in options.orderby]
    desc = [d for _, d in options.orderby]
    return frame.sort(names, descending=desc, nulls_last=desc, maintain_order=True)


# ------------------------------------------------------------------ partitions


def pinned(tree: ast._Node | None, name: str) -> set[Any] | None:
    """The values ``name`` must take for a row to match (from ``eq``/``in`` joined by
    ``and`` at the top of the filter), or None if the filter does not pin it. Used to
    compute only the partitions a filter can match; the whole filter is still applied."""
    if tree is None:
        return None
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And):
        left, right = pinned(tree.left, name), pinned(tree.right, name)
        if left is None:
            return right
        return left if right is None else left & right
    if isinstance(tree, ast.Compare):
        sides = (tree.left, tree.right)
        ident = next((s for s in sides if isinstance(s, ast.Identifier)), None)
        if ident is None or ident.name != name:
            return None
        other = tree.right if ident is tree.left else tree.left
        if isinstance(tree.comparator, ast.Eq) and isinstance(other, ast.String | ast.Integer):
            return {other.py_val}
        if isinstance(tree.comparator, ast.In) and isinstance(other, ast.List):
            return {v.py_val for v in other.val if isinstance(v, ast.String | ast.Integer)}
    return None


# ------------------------------------------------------------------ skiptoken


@dataclass(frozen=True)
class Position:
    """Where the next page starts: rows already sent, and the last key sent (keyset)."""

    sent: int = 0
    last_key: tuple[Any, ...] | None = None
    page_size: int | None = None


def _mac(secret: bytes, payload: bytes) -> str:
    digest = hmac.new(secret, b"odata-skiptoken\x00" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def make_skiptoken(secret: bytes, digest: str, position: Position) -> str:
    body = json.dumps(
        {"q": digest, "n": position.sent, "k": position.last_key, "p": position.page_size},
        separators=(",", ":"),
        default=str,
    ).encode()
    encoded = base64.urlsafe_b64encode(body).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, body)}"


def read_skiptoken(secret: bytes, digest: str, token: str) -> Position:
    """The position a skiptoken of this very query carries, or a 400: a token that was
    altered, or that belongs to another query, is refused (never trusted)."""
    bad = ODataError(
        "$skiptoken is not one this feed issued for this query (altered or from another "
        "query); follow @odata.nextLink exactly as given, or start again without it.",
        code="invalid_skiptoken",
        target="$skiptoken",
    )
    encoded, dot, mac = token.partition(".")
    if not dot:
        raise bad
    try:
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        raise bad from None
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise bad
    data = json.loads(body)
    if data.get("q") != digest:
        raise bad
    key = data.get("k")
    return Position(
        sent=int(data["n"]),
        last_key=tuple(key) if key is not None else None,
        page_size=data.get("p"),
    )


# ------------------------------------------------------------------ frames out


def json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Values as OData JSON writes them: date-times ISO 8601 in UTC with Z, decimals as
    numbers."""
    fixes = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            fixes.append(pl.col(name).dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
        elif isinstance(dtype, pl.Decimal):
            fixes.append(pl.col(name).cast(pl.Float64))
    return frame.with_columns(fixes) if fixes else frame
