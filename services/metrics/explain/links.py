"""Where a figure's explanation is: paths built from the figure's own coordinates, for
the packages that serve figures to put beside them (this module imports none of them)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from services.metrics.packs.schemas import Pack

SURVEY_FIGURE = "/api/v1/explain/survey-figure?"


def survey_links(found: dict[str, Any]) -> dict[str, str]:
    """A campaign's results (as served) → figure name → its explanation's path. Names:
    ``response_rate``, ``response_rate_adjusted``, ``nps``; for a user-satisfaction survey
    also ``overall.mean_overall``, ``overall.mean_improvement``, ``overall.percent_worse``,
    ``factors.S1.satisfaction`` …, ``breakdowns.<attribute>=<cell>.overall`` and
    ``.improvement``."""
    campaign_id = found["campaign_id"]
    audience = found.get("audience") or "internal"

    def href(**query: str) -> str:
        return SURVEY_FIGURE + urlencode(
            {"campaign_id": campaign_id, "audience": audience, **query}
        )

    links = {
        "response_rate": href(figure="response_rate"),
        "nps": href(figure="nps"),
    }
    if found.get("response_rate_adjusted") is not None:
        links["response_rate_adjusted"] = href(figure="response_rate_adjusted")
    if found["kind"] != "user_satisfaction":
        return links
    links["overall.mean_overall"] = href(figure="mean", key="overall")
    links["overall.mean_improvement"] = href(figure="mean", key="improvement")
    links["overall.percent_worse"] = href(figure="percent_worse")
    for row in found.get("factors") or []:
        for measure in ("satisfaction", "importance"):
            name = f"{row['factor']}.{measure}"
            links[f"factors.{name}"] = href(figure="mean", key=name)
    for row in found.get("breakdowns") or []:
        for key in ("overall", "improvement"):
            links[f"breakdowns.{row['attribute']}={row['value']}.{key}"] = href(
                figure="mean", key=key, attribute=row["attribute"], cell=row["value"]
            )
    return links


PACK_TOTAL = "/api/v1/explain/pack-total?"
MONEY = ("budget", "forecast", "variance", "actuals", "remaining")


def pack_links(pack: Pack) -> dict[str, str]:
    """A pack's totals → their explanations' paths: ``outturn.groups.<key>.<column>``,
    ``outturn.total.<column>``, ``cost_tables.<title>.grand_total``,
    ``cost_tables.<title>.column_totals.<column>``,
    ``cost_tables.<title>.organisation_totals.<organisation id>``, ``kpi.sla.<priority>``."""
    h = pack.header
    where: dict[str, Any] = {
        "service_id": h.service.id,
        "financial_year": h.financial_year,
        "period": h.period,
    }
    if h.version is not None:
        where["version"] = h.version

    def href(**query: Any) -> str:
        return PACK_TOTAL + urlencode({**where, **query})

    links: dict[str, str] = {}
    if pack.outturn is not None:
        for g in pack.outturn.groups:
            for c in MONEY:
                links[f"outturn.groups.{g.key}.{c}"] = href(
                    figure="outturn_group", key=g.key, column=c
                )
        for c in MONEY:
            links[f"outturn.total.{c}"] = href(figure="outturn_total", column=c)
    for t in pack.cost_tables:
        links[f"cost_tables.{t.title}.grand_total"] = href(figure="cost_total", key=t.title)
        for c in t.columns:
            links[f"cost_tables.{t.title}.column_totals.{c}"] = href(
                figure="cost_total", key=t.title, column=c
            )
        for r in t.organisation_totals:
            links[f"cost_tables.{t.title}.organisation_totals.{r.organisation.id}"] = href(
                figure="cost_total", key=t.title, organisation_id=r.organisation.id
            )
    for m in pack.kpi.measures:
        if m.key.startswith("sla."):
            links[f"kpi.{m.key}"] = href(figure="kpi_sla", key=m.key.removeprefix("sla."))
    return links


NPS = "/api/v1/explain/nps?"


def nps_link(
    source: str,
    organisation_id: int,
    month: date | None,
    month_from: date | None,
    month_to: date | None,
) -> str:
    """An NPS report row (an organisation's month, or its whole period: ``month`` None,
    over the report's months) → its explanation's path."""
    query: dict[str, Any] = {"source": source, "organisation_id": organisation_id}
    if month is not None:
        query["month"] = month.isoformat()
    if month_from is not None:
        query["month_from"] = month_from.isoformat()
    if month_to is not None:
        query["month_to"] = month_to.isoformat()
    return NPS + urlencode(query)


GROUP_BREAKDOWN = "/api/v1/explain/survey-group-breakdown?"
GROUP_FACTOR = "/api/v1/explain/survey-group-factor?"


def group_breakdown_links(cycles: list[int], rows: list[dict[str, Any]]) -> dict[str, str]:
    """The group breakdowns' rows → ``<attribute>=<value>.<measure>`` → the explanation's
    path (withheld cells too: theirs says withheld and why)."""
    years = [("cycle", c) for c in sorted(set(cycles))]
    links = {}
    for r in rows:
        for m in ("overall", "improvement"):
            links[f"{r['attribute']}={r['value']}.{m}"] = GROUP_BREAKDOWN + urlencode(
                [*years, ("attribute", r["attribute"]), ("value", r["value"]), ("measure", m)]
            )
    return links


def group_factor_links(
    cycle: int, baseline: list[int], rows: list[dict[str, Any]]
) -> dict[str, str]:
    """The group factors' rows → ``<factor>.cycle`` and ``<factor>.baseline`` → paths."""
    base = [("baseline", b) for b in baseline]
    return {
        f"{r['factor']}.{period}": GROUP_FACTOR
        + urlencode([("cycle", cycle), *base, ("factor", r["factor"]), ("period", period)])
        for r in rows
        for period in ("cycle", "baseline")
    }


WEIGHTED = "/api/v1/explain/survey-weighted?"


def weighted_links(campaign_id: int, audience: str, rows: list[dict[str, Any]]) -> dict[str, str]:
    """A campaign's weighted table → ``<figure>`` (all responses) or
    ``<attribute>=<value>.<figure>`` (a cell) → the explanation's path."""
    links = {}
    for r in rows:
        query: list[tuple[str, Any]] = [
            ("campaign_id", campaign_id),
            ("audience", audience),
            ("figure", r["figure"]),
        ]
        if r["attribute"] is None:
            links[r["figure"]] = WEIGHTED + urlencode(query)
        else:
            query += [("attribute", r["attribute"]), ("value", r["value"])]
            links[f"{r['attribute']}={r['value']}.{r['figure']}"] = WEIGHTED + urlencode(query)
    return links
