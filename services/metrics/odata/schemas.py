"""The feed's entity data model, declared once: every entity set with its key and typed
properties. ``$metadata`` (CSDL XML, or JSON CSDL), the ``$filter`` type checks, the
``$select``/``$orderby`` checks and the columns of each result are all derived from it.

Names: entity sets are plural PascalCase (``Comparisons``), properties are the JSON API's
snake_case field names, so a figure has the same name in both. Figures are in the unit the
row names (``unit``), as in the JSON API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

NAMESPACE = "Yardstick"
CONTAINER = "Container"
ODATA_VERSION = "4.0"
JSON_MEDIA_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true"
XML_MEDIA_TYPE = "application/xml"

RESULT_ROLES = ("admin", "participant", "reader")
SLA_ROLES = ("admin", "participant", "partner", "reader")
PACK_ROLES = ("admin", "participant", "partner", "reader")  # as the pack API's readers

# OData primitive types used here; the Polars dtype each is read as.
EDM_TYPES = (
    "Edm.String",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.Double",
    "Edm.Decimal",
    "Edm.Boolean",
    "Edm.Date",
    "Edm.DateTimeOffset",
)
NUMERIC = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Decimal"})


@dataclass(frozen=True)
class Prop:
    name: str
    type: str
    nullable: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        assert self.type in EDM_TYPES, self.type


@dataclass(frozen=True)
class EntitySet:
    """One entity set. ``partition``: properties the service computes rows per value of
    (an organisation, a cycle, a peer group, a metric); an ``eq``/``in`` on them in
    ``$filter`` narrows what is computed before any row exists."""

    name: str
    type_name: str
    description: str
    key: tuple[str, ...]
    properties: tuple[Prop, ...]
    roles: tuple[str, ...]
    partition: tuple[str, ...] = ()
    by_name: dict[str, Prop] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.properties})
        for k in self.key:
            assert not self.by_name[k].nullable, (self.name, k)

    @property
    def columns(self) -> list[str]:
        return [p.name for p in self.properties]


def _p(name: str, type_: str, description: str = "", *, key: bool = False) -> Prop:
    return Prop(name, f"Edm.{type_}", nullable=not key, description=description)


def _k(name: str, type_: str, description: str = "") -> Prop:
    return _p(name, type_, description, key=True)


_THRESHOLD = (
    "The disclosure threshold the cell's responses met: publication, internal, or null "
    "when below both"
)
_PACK = (
    _k("pack_id", "Int32", "The stored pack version"),
    _k("service_id", "Int32", "The shared service"),
    _k("financial_year", "Int32", "2024 = 2024/25"),
    _k("period", "Int32", "P1 = April"),
    _p("version", "Int32"),
    _k("status", "String", "draft, in_review, issued or superseded"),
)
_ORG = _k("organisation_id", "Int32", "Your organisation's id")
_CYCLE = _k("cycle_year", "Int32", "Cycle (collection year)")
_GROUP = _k(
    "peer_group_key",
    "String",
    "Standard peer group: all, past, type:L, nation:Wales, partnership:true, size:1000-2499",
)
_METRIC = _k("metric_key", "String", "Metric key (see Metrics)")
_FIGURES = (
    _p("median", "Double", "The peer group's median, in the unit; null when suppressed"),
    _p("q1", "Double", "Lower quartile, in the unit"),
    _p("q3", "Double", "Upper quartile, in the unit"),
    _p("min", "Double", "Lowest peer value, in the unit"),
    _p("max", "Double", "Highest peer value, in the unit"),
    _k("n", "Int32", "Responses in the peer group with a value"),
    _k("n_organisations", "Int32", "Distinct organisations among them"),
    _k("suppressed", "Boolean", "Statistics withheld (disclosure control)"),
    _p("suppression_reason", "String", "Why they were withheld"),
)
_UNIT = _k("unit", "String", "Unit of every figure in the row: ratio, percent (0-100), gbp…")
_POLARITY = _k("polarity", "String", "higher_better, lower_better or neutral")
_CONTEXT = (
    _p("organisation_code", "String", "Your anonymous code in the cycle"),
    _k("data_year", "String", "The financial year the data describe, e.g. 2019/20"),
)
_KEY = _k("key", "String", "Row key: the row's grouping values joined by '|' (empty for null)")
_PRIORITY = _p("priority", "String", "Ticket priority P0-P4")
_MONTH = "First day of the month (Europe/London)"

ENTITY_SETS: tuple[EntitySet, ...] = (
    EntitySet(
        "Metrics",
        "Metric",
        "The metric catalogue of each cycle",
        ("cycle_year", "metric_key"),
        (
            _CYCLE,
            _METRIC,
            _k("metric_name", "String"),
            _k("module", "String"),
            _UNIT,
            _POLARITY,
            _k("peer_comparison", "Boolean", "Compared with peers (has statistics)"),
            _p("introduced_in", "Int32", "First cycle with this metric"),
            _k("definition_changed", "Boolean", "The definition changed this cycle"),
            _p("description", "String"),
        ),
        RESULT_ROLES,
    ),
    EntitySet(
        "BenchmarkStatistics",
        "BenchmarkStatistic",
        "n, min, quartiles, median and max per cycle, standard peer group and metric",
        ("cycle_year", "peer_group_key", "metric_key"),
        (_CYCLE, _GROUP, _METRIC, *_FIGURES),
        RESULT_ROLES,
    ),
    EntitySet(
        "Comparisons",
        "Comparison",
        "Your organisation against each standard peer group, every metric",
        ("organisation_id", "cycle_year", "peer_group_key", "metric_key"),
        (
            _ORG,
            _CYCLE,
            _GROUP,
            _METRIC,
            *_CONTEXT,
            _p("results_release_date", "Date"),
            _k("metric_name", "String"),
            _k("module", "String"),
            _UNIT,
            _POLARITY,
            _p("my_value", "Double", "Your value, in the unit"),
            *_FIGURES,
            _p("quartile_band", "Int32", "1 = best quarter ... 4 = worst"),
            _p("rank", "Int32", "1 = best"),
            _p("rank_of", "Int32"),
        ),
        RESULT_ROLES,
        partition=("organisation_id", "cycle_year", "peer_group_key"),
    ),
    EntitySet(
        "Distributions",
        "Distribution",
        "Every peer's anonymous code and value, in value order, per metric",
        ("organisation_id", "cycle_year", "peer_group_key", "metric_key", "position"),
        (
            _ORG,
            _CYCLE,
            _GROUP,
            _METRIC,
            _k("position", "Int32", "1 = lowest value"),
            *_CONTEXT,
            _p("results_release_date", "Date"),
            _UNIT,
            _k("peer_code", "String", "The peer's anonymous code in its cycle"),
            _k("peer_cycle_year", "Int32"),
            _k("value", "Double", "The peer's value, in the unit"),
            _k("is_mine", "Boolean", "This value is your organisation's"),
        ),
        RESULT_ROLES,
        partition=("organisation_id", "cycle_year", "peer_group_key", "metric_key"),
    ),
    EntitySet(
        "Trends",
        "Trend",
        "Each metric across cycles up to your latest cycle: the benchmark and your value",
        ("organisation_id", "peer_group_key", "metric_key", "cycle_year"),
        (
            _ORG,
            _GROUP,
            _METRIC,
            _CYCLE,
            _k("as_of_cycle_year", "Int32", "The latest cycle you may see (the trend's end)"),
            *_CONTEXT,
            _k("metric_name", "String"),
            _UNIT,
            _POLARITY,
            _k("definition_changed", "Boolean", "The metric's definition changed this cycle"),
            _k("introduced", "Boolean", "First cycle with this metric"),
            _p("my_value", "Double", "Your value, in the unit"),
            *_FIGURES,
        ),
        RESULT_ROLES,
        partition=("organisation_id", "peer_group_key", "metric_key"),
    ),
    EntitySet(
        "SlaMonthly",
        "SlaMonth",
        "Per organisation, priority and month of resolution: met, missed, % met vs target",
        ("organisation_id", "priority", "month"),
        (
            _ORG,
            _k("priority", "String", "Ticket priority P0-P4"),
            _k("month", "Date", _MONTH + " of resolution"),
            _k("met", "Int64", "Resolved tickets that met their SLA"),
            _k("missed", "Int64", "Resolved tickets that missed their SLA"),
            _k("total", "Int64", "Resolved tickets counted"),
            _p("pct_met", "Decimal", "% of resolved tickets that met (0-100, 2 dp)"),
            _p("target_share_pct", "Decimal", "The policy's target share (%, 2 dp)"),
            _p("target_achieved", "Boolean", "pct_met >= target_share_pct"),
            _p("avg_closure_sla_clock_hours", "Double", "Mean time to close, SLA clock (h)"),
            _p("avg_closure_wall_hours", "Double", "Mean time to close, wall clock (h)"),
        ),
        SLA_ROLES,
    ),
    EntitySet(
        "SlaTickets",
        "SlaTicket",
        "Per-ticket SLA outcomes: due time, elapsed time, status",
        ("organisation_id", "source_system", "reference"),
        (
            _ORG,
            _k("source_system", "String"),
            _k("reference", "String", "The ticket's reference in its source system"),
            _k("type", "String", "incident or request"),
            _PRIORITY,
            _p("request_type", "String"),
            _p("team", "String"),
            _p("closure_category", "String"),
            _p("logged_at", "DateTimeOffset"),
            _p("logged_date", "Date", "Day logged (Europe/London)"),
            _p("resolution_at", "DateTimeOffset"),
            _p("due_at", "DateTimeOffset", "When the SLA target falls due"),
            _p("target_seconds", "Int64", "The SLA target (seconds on the SLA clock)"),
            _p("elapsed_sla_seconds", "Int64", "Elapsed on the SLA clock, pauses deducted"),
            _p("elapsed_wall_seconds", "Int64", "Elapsed on the wall clock (24x7)"),
            _p("paused_seconds", "Int64", "On hold (seconds on the SLA clock)"),
            _p("reopen_count", "Int32"),
            _k("is_open", "Boolean"),
            _k("on_hold", "Boolean"),
            _k("sla_status", "String", "met, missed, open_within, open_breached, data_quality"),
            _p("data_quality_reason", "String"),
            _k("computed_at", "DateTimeOffset", "When the outcome was computed"),
            # issue 13: the policy's clock, pauses, reopen and priority-change rules, and
            # the first-response target (as /api/v1/sla/tickets shows them)
            _p("calendar_id", "String", "The working-hours calendar of the SLA clock"),
            _p("pending_seconds", "Int64", "Pending on the customer (seconds on the SLA clock)"),
            _p("cycles", "Int32", "Resolve-reopen cycles counted"),
            _p("reopen_rule", "String", "How a reopen was counted (the policy's rule)"),
            _p("priority_change", "String", "How a priority change was applied (the rule)"),
            _p("priority_changed_at", "DateTimeOffset"),
            _p("first_response_at", "DateTimeOffset"),
            _p("response_target_seconds", "Int64", "The first-response target (SLA clock)"),
            _p("response_elapsed_seconds", "Int64", "Time to first response (SLA clock)"),
            _p("response_due_at", "DateTimeOffset", "When the first response falls due"),
            _p("response_status", "String", "First response: met, missed, open_within, ..."),
        ),
        SLA_ROLES,
    ),
    EntitySet(
        "SlaLogged",
        "SlaLoggedMonth",
        "Tickets logged per organisation, priority and month",
        ("key",),
        (
            _KEY,
            _ORG,
            _PRIORITY,
            _p("month", "Date", _MONTH + " logged"),
            _k("logged", "Int64", "Tickets logged"),
        ),
        SLA_ROLES,
    ),
    EntitySet(
        "SlaBacklog",
        "SlaBacklogRow",
        "Open (within / breached), on hold and reopened tickets per organisation and priority, now",
        ("key",),
        (
            _KEY,
            _ORG,
            _PRIORITY,
            _k("open", "Int64"),
            _k("open_within", "Int64"),
            _k("open_breached", "Int64"),
            _k("on_hold", "Int64"),
            _k("reopened", "Int64"),
            _k("data_quality", "Int64"),
            _k("as_of", "DateTimeOffset", "The moment the backlog describes"),
        ),
        SLA_ROLES,
    ),
    EntitySet(
        "Nps",
        "NpsRow",
        "Net Promoter Score by source, organisation and month (month null: the whole period)",
        ("key",),
        (
            _KEY,
            _k("source", "String", "tickets, feedback or survey"),
            _ORG,
            _p("month", "Date", _MONTH + "; null = the organisation's whole period"),
            _k("responses", "Int64", "0-10 ratings counted"),
            _k("promoters", "Int64", "Ratings of 9-10"),
            _k("passives", "Int64", "Ratings of 7-8"),
            _k("detractors", "Int64", "Ratings of 0-6"),
            _p("nps", "Double", "% promoters - % detractors (1 dp); null without ratings"),
        ),
        SLA_ROLES,
    ),
    EntitySet(
        "SurveyFactors",
        "SurveyFactor",
        "User-satisfaction survey factors: satisfaction, importance, gap, weight gap",
        ("campaign_id", "factor"),
        (
            _k("campaign_id", "Int32"),
            _k("factor", "String", "Factor key, S1 to S20"),
            _ORG,
            _k("final", "Boolean", "The campaign has closed (the figures are final)"),
            _k("n_satisfaction", "Int64"),
            _p("mean_satisfaction_2dp", "Double", "Mean rating 1-7 (2 dp)"),
            _k("n_importance", "Int64"),
            _p("mean_importance_2dp", "Double", "Mean rating 1-7 (2 dp)"),
            _p("gap_2dp", "Double", "Satisfaction minus importance (2 dp)"),
            _p("weight_gap_2dp", "Double", "The gap weighted by importance (2 dp)"),
            # issue 15: 95% intervals and which disclosure threshold the cell met
            _p("satisfaction_ci_low_2dp", "Double", "95% interval of satisfaction, low"),
            _p("satisfaction_ci_high_2dp", "Double", "95% interval of satisfaction, high"),
            _p("importance_ci_low_2dp", "Double", "95% interval of importance, low"),
            _p("importance_ci_high_2dp", "Double", "95% interval of importance, high"),
            _p("threshold_met", "String", _THRESHOLD),
        ),
        RESULT_ROLES,
    ),
    EntitySet(
        "SurveyBreakdowns",
        "SurveyBreakdown",
        "User-satisfaction breakdowns by attribute; small cells null with the reason",
        ("campaign_id", "attribute", "value"),
        (
            _k("campaign_id", "Int32"),
            _k("attribute", "String", "The answer key broken down by, e.g. attr.role"),
            _k("value", "String", "The attribute's value (Not stated: unanswered)"),
            _ORG,
            _k("final", "Boolean", "The campaign has closed (the figures are final)"),
            _p("n", "Int64", "Responses in the cell; null when suppressed"),
            _p("mean_overall_2dp", "Double", "Overall satisfaction, mean 1-7 (2 dp)"),
            _p("mean_improvement_2dp", "Double", "Improvement, mean 1-7 (2 dp)"),
            _k("suppressed", "Boolean", "Withheld: too few responses to show"),
            _p("reason", "String", "Why it was withheld"),
            # issue 15: 95% intervals and which disclosure threshold the cell met
            _p("overall_ci_low_2dp", "Double", "95% interval of overall satisfaction, low"),
            _p("overall_ci_high_2dp", "Double", "95% interval of overall satisfaction, high"),
            _p("improvement_ci_low_2dp", "Double", "95% interval of improvement, low"),
            _p("improvement_ci_high_2dp", "Double", "95% interval of improvement, high"),
            _p("threshold_met", "String", _THRESHOLD),
        ),
        RESULT_ROLES,
    ),
    # The committee pack's tables (stored versions: draft, in review, issued, superseded;
    # filter status eq 'issued' for the figures as issued), for the services the caller
    # may read packs of. Chosen for a BI analyst: the KPI summary, the SLA table rows, the
    # outturn lines with their group and grand totals, and the risk register. Not here:
    # the narrative sentences, commentary, checks and charts (the pack itself has them),
    # and the cost tables (their columns vary per table).
    EntitySet(
        "PackKpis",
        "PackKpi",
        "Committee pack KPI summary: each measure with its target, RAG and change",
        ("pack_id", "key"),
        (
            *_PACK,
            _k("key", "String", "The measure, e.g. sla.P2"),
            _k("label", "String"),
            _p("value", "Double", "In the measure's unit"),
            _k("unit", "String", "%, count or score"),
            _p("target", "Double"),
            _p("rag", "String", "red, amber or green; null without a target"),
            _p("previous", "Double", "In the previous issued pack"),
            _p("change", "Double", "value - previous"),
            _p("comment", "String", "The service's comment"),
        ),
        PACK_ROLES,
        ("pack_id",),
    ),
    EntitySet(
        "PackSlaMonths",
        "PackSlaMonth",
        "Committee pack SLA tables: met and missed per priority and month of resolution",
        ("pack_id", "priority", "month"),
        (
            *_PACK,
            _k("priority", "String"),
            _k("target_label", "String", "e.g. 95% within 4 hours"),
            _k("target_pct", "Double"),
            _k("month", "Date", "First day of the month of resolution"),
            _k("met", "Int64"),
            _k("missed", "Int64"),
            _k("total", "Int64"),
            _p("met_pct", "Double", "% of the month's resolved tickets (2 dp)"),
            _p("missed_pct", "Double", "% of the month's resolved tickets (2 dp)"),
        ),
        PACK_ROLES,
        ("pack_id",),
    ),
    EntitySet(
        "PackOutturn",
        "PackOutturnRow",
        "Committee pack outturn: every line, each group's total and the grand total, in pence",
        ("pack_id", "row"),
        (
            *_PACK,
            _k("row", "Int32", "Order in the outturn table"),
            _k("kind", "String", "line, group_total, total or recharge"),
            _p("group_key", "String"),
            _p("group_label", "String"),
            _p("category", "String"),
            _p("line", "String", "The line's name; null on a total"),
            _k("budget_pence", "Int64"),
            _k("forecast_pence", "Int64"),
            _k("variance_pence", "Int64", "forecast - budget"),
            _k("actuals_pence", "Int64"),
            _k("remaining_pence", "Int64", "budget - actuals"),
        ),
        PACK_ROLES,
        ("pack_id",),
    ),
    EntitySet(
        "PackRisks",
        "PackRisk",
        "Committee pack risk register: each risk's scores, band and trend",
        ("pack_id", "reference"),
        (
            *_PACK,
            _k("reference", "String"),
            _k("section", "String"),
            _k("title", "String"),
            _k("impact", "Int32", "1-5"),
            _k("probability", "Int32", "1-5"),
            _k("priority", "Int32", "impact x probability"),
            _k("band", "String", "low, medium, high or very high"),
            _p("previous_priority", "Int32", "In the previous period"),
            _p("trend", "String"),
            _p("owner", "String"),
        ),
        PACK_ROLES,
        ("pack_id",),
    ),
)

BY_NAME: dict[str, EntitySet] = {s.name: s for s in ENTITY_SETS}


# ------------------------------------------------------------------ $metadata


def _attr(name: str, value: str) -> str:
    return f" {name}={quoteattr(value)}"


def csdl_xml() -> str:
    """The service's CSDL XML document (OData v4.0)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        '<edmx:Reference Uri="https://oasis-tcs.github.io/odata-vocabularies/vocabularies/'
        'Org.OData.Core.V1.xml"><edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/>'
        "</edmx:Reference>",
        "<edmx:DataServices>",
        f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{NAMESPACE}">',
    ]
    for s in ENTITY_SETS:
        out.append(f"<EntityType{_attr('Name', s.type_name)}>")
        out.append("<Key>" + "".join(f"<PropertyRef{_attr('Name', k)}/>" for k in s.key) + "</Key>")
        for p in s.properties:
            extra = _attr("Nullable", "false") if not p.nullable else ""
            if p.type == "Edm.Decimal":
                extra += _attr("Precision", "9") + _attr("Scale", "2")
            if p.type == "Edm.DateTimeOffset":
                extra += _attr("Precision", "0")
            if p.description:
                out.append(
                    f"<Property{_attr('Name', p.name)}{_attr('Type', p.type)}{extra}>"
                    f"<Annotation{_attr('Term', 'Core.Description')}"
                    f"{_attr('String', p.description)}/></Property>"
                )
            else:
                out.append(f"<Property{_attr('Name', p.name)}{_attr('Type', p.type)}{extra}/>")
        out.append(
            f"<Annotation{_attr('Term', 'Core.Description')}{_attr('String', s.description)}/>"
        )
        out.append("</EntityType>")
    out.append(f'<EntityContainer Name="{CONTAINER}">')
    for s in ENTITY_SETS:
        out.append(
            f"<EntitySet{_attr('Name', s.name)}"
            f"{_attr('EntityType', f'{NAMESPACE}.{s.type_name}')}/>"
        )
    out += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(out)


def csdl_json() -> str:
    """The same model as JSON CSDL (OData CSDL JSON 4.01 format, version 4.0 model)."""
    schema: dict[str, Any] = {}
    for s in ENTITY_SETS:
        entity: dict[str, Any] = {"$Kind": "EntityType", "$Key": list(s.key)}
        for p in s.properties:
            prop: dict[str, Any] = {}
            if p.type != "Edm.String":
                prop["$Type"] = p.type
            if p.nullable:
                prop["$Nullable"] = True
            if p.type == "Edm.Decimal":
                prop.update({"$Precision": 9, "$Scale": 2})
            if p.type == "Edm.DateTimeOffset":
                prop["$Precision"] = 0
            if p.description:
                prop["@Core.Description"] = p.description
            entity[p.name] = prop
        entity["@Core.Description"] = s.description
        schema[s.type_name] = entity
    schema[CONTAINER] = {
        "$Kind": "EntityContainer",
        **{
            s.name: {"$Collection": True, "$Type": f"{NAMESPACE}.{s.type_name}"}
            for s in ENTITY_SETS
        },
    }
    doc = {
        "$Version": ODATA_VERSION,
        "$Reference": {
            "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.json": {
                "$Include": [{"$Namespace": "Org.OData.Core.V1", "$Alias": "Core"}]
            }
        },
        "$EntityContainer": f"{NAMESPACE}.{CONTAINER}",
        NAMESPACE: schema,
    }
    return json.dumps(doc, ensure_ascii=False)


def service_document(context: str) -> dict[str, Any]:
    return {
        "@odata.context": context,
        "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in ENTITY_SETS],
    }
