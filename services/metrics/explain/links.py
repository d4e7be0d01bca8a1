"""Where a figure's explanation is: paths built from the figure's own coordinates, for
the packages that serve figures to put beside them (this module imports none of them)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

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
