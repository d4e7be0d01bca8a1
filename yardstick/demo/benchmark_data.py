"""Deterministic demo data for benchmarking: organisations, cycles and submissions.

Pure Python, no database: ``generate_benchmark_data(seed)`` returns plain dataclasses that
a seeding command can write through the services. The same seed always gives the same
data set.

About 70 fictional organisations of every type (a few supplied through partnerships)
take part in five cycles (collection years 2016-2020); 44 take part in 2020. Each
submission's answers follow that cycle's catalogue (a question the cycle does not ask is
not answered) and pass its validation with no error-severity issue.

The generator draws each metric's per-organisation value around a target, then rescales
the draws so the median over the cycle's accepted submissions is the target exactly; the
answers are derived from those values (and rounded like real answers, so computed
medians land within a percent or so). 2020 targets are the 2019/20 medians in DOMAIN.md;
earlier cycles drift back from them.

One quirk of the published table: 9.3 contacts per user x 366.1 users per service-desk
FTE suggests ~3,400 contacts per service-desk FTE, but the published median is 2,691
(the median of a product is not the product of medians). The generator reproduces all
three by choosing how the two factors pair up across organisations.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from shared.catalogue import Catalogue, load_catalogue

SubmissionState = Literal["draft", "submitted", "returned", "accepted"]

CYCLE_YEARS: tuple[int, ...] = (2016, 2017, 2018, 2019, 2020)
PARTICIPANTS_PER_CYCLE: dict[int, int] = {2016: 46, 2017: 49, 2018: 47, 2019: 45, 2020: 44}
CORE_MODULES: tuple[str, ...] = ("estate", "cost", "performance")

# 2019/20 medians from DOMAIN.md, by metric key (percent metrics in percentage points).
DOMAIN_MEDIANS_2020: dict[str, float] = {
    "users_per_ict_fte": 44.5,
    "change_project_staff_pct": 15.6,
    "devices_per_user": 2.04,
    "workstations_per_user": 0.96,
    "monitors_per_workstation": 1.8,
    "flexible_equipped_pct": 75.1,
    "flexible_daily_pct": 13.5,
    "flexible_annual_pct": 73.0,
    "users_per_service_desk_fte": 366.1,
    "first_line_technical_pct": 58.3,
    "contacts_per_user": 9.3,
    "first_contact_resolution_pct": 70.0,
    "contacts_per_service_desk_fte": 2691.0,
    "resolved_15min_pct": 45.0,
    "resolved_4h_pct": 67.0,
    "over_16h_pct": 16.5,
    "availability_index": 81.0,
    "post_interaction_satisfaction": 5.5,
    "ict_spend_pct_of_revenue": 2.29,
    "ict_spend_per_user": 2612.0,
    "cost_per_workstation": 186.0,
    "support_cost_per_user": 94.0,
    "network_cost_per_user": 173.0,
    "us_response_rate": 23.8,
    "us_overall_satisfaction": 5.1,
    "us_improvement": 4.55,
}

# Change per year before 2020: ("mul", factor per year) or ("add", points per year).
_DRIFT: dict[str, tuple[str, float]] = {
    "users_per_ict_fte": ("mul", 1.02),
    "devices_per_user": ("mul", 1.06),
    "flexible_equipped_pct": ("add", 3.5),
    "flexible_daily_pct": ("add", 1.0),
    "flexible_annual_pct": ("add", 2.5),
    "ict_spend_per_user": ("mul", 1.025),
    "ict_spend_pct_of_revenue": ("mul", 1.015),
    "contacts_per_user": ("mul", 0.98),
    "first_contact_resolution_pct": ("add", 0.8),
    "us_overall_satisfaction": ("add", 0.03),
}

_TYPES: tuple[tuple[str, int, float, float], ...] = (
    # type, how many, median users, spread (log sd)
    ("E", 12, 3800, 0.45),
    ("S", 7, 4500, 0.5),
    ("W", 6, 3000, 0.45),
    ("C", 8, 7500, 0.4),
    ("D", 18, 650, 0.45),
    ("L", 9, 4200, 0.35),
    ("M", 8, 5500, 0.4),
    ("O", 2, 900, 0.6),
)
_NATION = {"E": "England", "C": "England", "D": "England", "L": "England", "M": "England"}
_NATION |= {"S": "Scotland", "W": "Wales"}
_PLACE_A = (
    "Ash", "Bram", "Cal", "Dun", "Elm", "Fen", "Glen", "Hart", "Ives", "Kings", "Lang",
    "Mill", "Nor", "Oak", "Pen", "Rother", "Stan", "Thorn", "Upper", "Wen", "Yar", "Brad",
    "Cold", "Har", "Lud", "Mar", "Red", "Sel", "Wal", "Whit",
)  # fmt: skip
_PLACE_B = (
    "bury", "ford", "ham", "ley", "mouth", "stead", "ton", "wick", "field", "dale",
    "brook", "combe", "worth", "minster",
)  # fmt: skip
_NAME_FORMAT = {
    "E": "{} Council",
    "S": "{} Council",
    "W": "{} County Borough Council",
    "C": "{}shire County Council",
    "D": "{} District Council",
    "L": "London Borough of {}",
    "M": "{} Metropolitan Borough Council",
    "O": "{} Joint ICT Service",
}


@dataclass(frozen=True)
class DemoOrganisation:
    id: int
    name: str
    type: str
    nation: str
    partnership: bool


@dataclass(frozen=True)
class DemoCycle:
    year: int  # collection year
    data_year: str  # e.g. "2019/20"
    code: str  # two-digit data-year code used in anonymous codes, e.g. "19"


@dataclass
class DemoSubmission:
    organisation_id: int
    cycle_year: int
    module: str
    state: SubmissionState
    answers: dict[str, object] = field(default_factory=dict)


@dataclass
class DemoDataset:
    organisations: list[DemoOrganisation]
    cycles: list[DemoCycle]
    submissions: list[DemoSubmission]

    def participants(self, cycle_year: int) -> list[int]:
        return sorted({s.organisation_id for s in self.submissions if s.cycle_year == cycle_year})

    def organisation_rows(self) -> list[dict[str, object]]:
        """(cycle_year, organisation_id, type, nation, partnership, users) per participant
        and cycle, users taken from the estate answers: the ``orgs`` input of the engine."""
        by_id = {o.id: o for o in self.organisations}
        rows = []
        for s in self.submissions:
            if s.module != "estate":
                continue
            org = by_id[s.organisation_id]
            users = s.answers.get("users")
            rows.append(
                {
                    "cycle_year": s.cycle_year,
                    "organisation_id": org.id,
                    "type": org.type,
                    "nation": org.nation,
                    "partnership": org.partnership,
                    "users": users if isinstance(users, int) else None,
                }
            )
        return rows

    def answer_rows(
        self,
        states: Iterable[SubmissionState] = ("accepted",),
        catalogue: Callable[[int], Catalogue] = load_catalogue,
    ) -> list[dict[str, object]]:
        """Long rows (cycle_year, organisation_id, question_key, value) with numeric values
        (choices as points, booleans as 1/0): the ``answers_long`` input of the engine."""
        wanted = set(states)
        rows: list[dict[str, object]] = []
        for s in self.submissions:
            if s.state not in wanted:
                continue
            for key, value in catalogue(s.cycle_year).numeric_answers(s.answers).items():
                rows.append(
                    {
                        "cycle_year": s.cycle_year,
                        "organisation_id": s.organisation_id,
                        "question_key": key,
                        "value": value,
                    }
                )
        return rows


# ---------------------------------------------------------------- helpers


def _median_of(values: Sequence[float], mask: Sequence[bool]) -> float:
    picked = [v for v, m in zip(values, mask, strict=True) if m]
    return statistics.median(picked) if picked else statistics.median(values)


def _ratio(
    rng: random.Random, n: int, target: float, spread: float, mask: Sequence[bool]
) -> list[float]:
    """Log-normal draws rescaled so the median over ``mask`` is exactly ``target``."""
    raw = [target * math.exp(rng.gauss(0.0, spread)) for _ in range(n)]
    factor = target / _median_of(raw, mask)
    return [v * factor for v in raw]


def _level(
    rng: random.Random,
    n: int,
    target: float,
    spread: float,
    mask: Sequence[bool],
    lo: float,
    hi: float,
) -> list[float]:
    """Normal draws shifted so the median over ``mask`` is ``target``, clipped to [lo, hi]."""
    raw = [rng.gauss(target, spread) for _ in range(n)]
    shift = target - _median_of(raw, mask)
    return [min(hi, max(lo, v + shift)) for v in raw]


def _target(key: str, year: int) -> float:
    base = DOMAIN_MEDIANS_2020[key]
    kind, step = _DRIFT.get(key, ("mul", 1.0))
    years = 2020 - year
    return base / step**years if kind == "mul" else base - step * years


def _pair_for_product(
    rng: random.Random,
    a: list[float],
    b: list[float],
    target: float,
    mask: Sequence[bool],
) -> list[float]:
    """Reorder ``b`` against ``a`` (both multisets unchanged, so their medians stay) so
    that the median of a*b over ``mask`` is as close as possible to ``target``."""
    idx = [i for i, m in enumerate(mask) if m]
    rest = [i for i, m in enumerate(mask) if not m]
    sa = sorted(idx, key=lambda i: a[i])
    sb = sorted(b[i] for i in idx)
    n = len(idx)
    best: tuple[float, list[float]] | None = None
    for k in range(n // 2, n + 1):
        # The k smallest of each paired in reverse, and likewise the rest: products in
        # the low group sit below those in the high group; k moves the median.
        order = list(reversed(sb[:k])) + list(reversed(sb[k:]))
        prods = [a[i] * order[j] for j, i in enumerate(sa)]
        err = abs(math.log(statistics.median(prods) / target))
        if best is None or err < best[0]:
            best = (err, order)
    assert best is not None
    out = list(b)
    for j, i in enumerate(sa):
        out[i] = best[1][j]
    others = [b[i] for i in rest]
    rng.shuffle(others)
    for i, v in zip(rest, others, strict=True):
        out[i] = v
    return out


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# ---------------------------------------------------------------- generation


def _organisations(rng: random.Random) -> tuple[list[DemoOrganisation], dict[int, float]]:
    names: set[str] = set()
    orgs: list[DemoOrganisation] = []
    base_users: dict[int, float] = {}
    partnership_ids = set()
    next_id = 1
    for org_type, count, median_users, spread in _TYPES:
        for i in range(count):
            while True:
                place = rng.choice(_PLACE_A) + rng.choice(_PLACE_B)
                name = _NAME_FORMAT[org_type].format(place)
                if name not in names:
                    names.add(name)
                    break
            nation = _NATION.get(org_type) or ("Northern Ireland" if i == 0 else "England")
            orgs.append(DemoOrganisation(next_id, name, org_type, nation, False))
            base_users[next_id] = max(150.0, median_users * math.exp(rng.gauss(0.0, spread)))
            if (org_type == "D" and i < 4) or (org_type in ("E", "W", "O") and i == 1):
                partnership_ids.add(next_id)
            next_id += 1
    orgs = [DemoOrganisation(o.id, o.name, o.type, o.nation, o.id in partnership_ids) for o in orgs]
    return orgs, base_users


def _participation(rng: random.Random, orgs: list[DemoOrganisation]) -> dict[int, list[int]]:
    propensity = {o.id: rng.random() for o in orgs}
    out: dict[int, list[int]] = {}
    for year in CYCLE_YEARS:
        score = {i: p + rng.gauss(0.0, 0.35) for i, p in propensity.items()}
        chosen = sorted(score, key=lambda i: -score[i])[: PARTICIPANTS_PER_CYCLE[year]]
        out[year] = sorted(chosen)
    # Every type takes part in the latest cycle.
    latest = out[CYCLE_YEARS[-1]]
    for org_type, *_ in _TYPES:
        if not any(o.type == org_type and o.id in latest for o in orgs):
            newcomer = next(o.id for o in orgs if o.type == org_type)
            latest.remove(max(latest, key=lambda i: propensity[i]))
            latest.append(newcomer)
    out[CYCLE_YEARS[-1]] = sorted(latest)
    return out


def _states(
    rng: random.Random, year: int, participants: list[int]
) -> dict[tuple[int, str], SubmissionState]:
    """Which modules each participant submitted, and the state each submission is in."""
    states: dict[tuple[int, str], SubmissionState] = {}
    for org_id in participants:
        for module in CORE_MODULES:
            states[(org_id, module)] = "accepted"
        if rng.random() < 0.6:
            states[(org_id, "user_satisfaction")] = "accepted"
        if rng.random() < 0.2:
            states[(org_id, "user_skills")] = "accepted"
        if rng.random() < 0.15:
            states[(org_id, "sdma")] = "accepted"
    if year == CYCLE_YEARS[-1]:
        # The latest cycle is still being reviewed: a few submissions are not accepted.
        shuffled = list(participants)
        rng.shuffle(shuffled)
        states[(shuffled[0], "performance")] = "submitted"
        states[(shuffled[1], "performance")] = "submitted"
        states[(shuffled[2], "cost")] = "returned"
        us = [i for i in shuffled[3:] if (i, "user_satisfaction") in states]
        states[(us[0], "user_satisfaction")] = "draft"
        states[(shuffled[4], "sdma")] = "draft"
    return states


def _cycle_answers(
    rng: random.Random,
    year: int,
    participants: list[int],
    base_users: dict[int, float],
    states: dict[tuple[int, str], SubmissionState],
) -> dict[tuple[int, str], dict[str, object]]:
    n = len(participants)

    def accepted(module: str) -> list[bool]:
        return [
            states.get((i, module)) == "accepted" and states.get((i, "estate")) == "accepted"
            for i in participants
        ]

    est, cost, perf, us = (
        accepted("estate"),
        accepted("cost"),
        accepted("performance"),
        accepted("user_satisfaction"),
    )

    def ratio(key: str, spread: float, mask: list[bool]) -> list[float]:
        return _ratio(rng, n, _target(key, year), spread, mask)

    def level(key: str, spread: float, mask: list[bool], lo: float, hi: float) -> list[float]:
        return _level(rng, n, _target(key, year), spread, mask, lo, hi)

    growth = 1.0 + 0.01 * (year - 2016)
    users = [
        max(120, round(base_users[i] * growth * math.exp(rng.gauss(0, 0.04)))) for i in participants
    ]
    users_per_ict = ratio("users_per_ict_fte", 0.3, est)
    change_pct = level("change_project_staff_pct", 5.0, est, 2.0, 45.0)
    ws_per_user = ratio("workstations_per_user", 0.12, est)
    dev_per_user = ratio("devices_per_user", 0.25, est)
    mon_per_ws = ratio("monitors_per_workstation", 0.2, est)
    equipped_pct = level("flexible_equipped_pct", 12.0, est, 20.0, 100.0)
    daily_pct = level("flexible_daily_pct", 5.0, est, 1.0, 60.0)
    annual_pct = level("flexible_annual_pct", 12.0, est, 25.0, 100.0)
    users_per_sd = ratio("users_per_service_desk_fte", 0.3, est)
    tech_pct = level("first_line_technical_pct", 15.0, est, 10.0, 100.0)
    both = [e and p for e, p in zip(est, perf, strict=True)]
    contacts_per_user = ratio("contacts_per_user", 0.3, both)
    users_per_sd = _pair_for_product(
        rng, contacts_per_user, users_per_sd, _target("contacts_per_service_desk_fte", year), both
    )
    fcr_pct = level("first_contact_resolution_pct", 9.0, perf, 30.0, 95.0)
    p4h = level("resolved_4h_pct", 8.0, perf, 40.0, 90.0)
    p15 = level("resolved_15min_pct", 7.0, perf, 15.0, 80.0)
    p16 = level("over_16h_pct", 5.0, perf, 2.0, 40.0)
    # The index falls 12.5 points per percentage point of unavailability (from 2019).
    lost = _ratio(rng, n, (100.0 - _target("availability_index", year)) / 12.5, 0.35, perf)
    pi_sat = level("post_interaction_satisfaction", 0.35, perf, 3.0, 6.9)
    spend_per_user = ratio("ict_spend_per_user", 0.3, cost)
    spend_pct = ratio("ict_spend_pct_of_revenue", 0.3, cost)
    cost_per_ws = ratio("cost_per_workstation", 0.3, cost)
    support_per_user = ratio("support_cost_per_user", 0.35, cost)
    network_per_user = ratio("network_cost_per_user", 0.35, cost)
    response_rate = ratio("us_response_rate", 0.35, us)
    overall = level("us_overall_satisfaction", 0.35, us, 3.0, 6.8)
    improvement = level("us_improvement", 0.3, us, 3.0, 6.5)

    std = {"certified": 0.15, "adopted": 0.35, "partially_adopted": 0.3, "not_adopted": 0.2}
    practice = {"always": 0.5, "sometimes": 0.4, "never": 0.1}
    factor_base = [4.6 + 0.06 * ((k * 7) % 19) for k in range(20)]
    importance_base = [5.4 + 0.05 * ((k * 11) % 23) for k in range(20)]

    out: dict[tuple[int, str], dict[str, object]] = {}
    for j, org_id in enumerate(participants):
        u = users[j]
        ict_fte = round(u / users_per_ict[j], 2)
        sd_fte = min(ict_fte, round(u / users_per_sd[j], 2))
        first_line = round(sd_fte * rng.uniform(0.55, 0.85), 2)
        workstations = max(1, round(u * ws_per_user[j]))
        devices = max(workstations, round(u * dev_per_user[j]))
        equipped = min(u, round(u * equipped_pct[j] / 100))
        annual = min(equipped, round(equipped * annual_pct[j] / 100))
        daily = min(annual, round(equipped * daily_pct[j] / 100))
        out[(org_id, "estate")] = {
            "users": u,
            "ict_fte": ict_fte,
            "change_project_fte": round(ict_fte * change_pct[j] / 100, 2),
            "devices": devices,
            "workstations": workstations,
            "monitors": round(workstations * mon_per_ws[j]),
            "equipped_users": equipped,
            "flex_daily_users": daily,
            "flex_annual_users": annual,
            "service_desk_fte": sd_fte,
            "first_line_fte": first_line,
            "first_line_technical_fte": round(first_line * tech_pct[j] / 100, 2),
            **{
                q: _pick(rng, std)
                for q in (
                    "gov_itil",
                    "gov_iso27001",
                    "gov_iso22301",
                    "gov_iso14001",
                    "gov_iso20000",
                    "gov_prince2",
                )
            },
        }
        contacts = u * contacts_per_user[j]
        incidents = round(contacts * rng.uniform(0.45, 0.65))
        within_4h = round(incidents * p4h[j] / 100)
        net_share = rng.uniform(0.3, 0.7)
        out[(org_id, "performance")] = {
            "sd_incidents": incidents,
            "sd_requests": round(contacts) - incidents,
            "sd_first_contact_resolved": round(incidents * fcr_pct[j] / 100),
            "sd_resolved_15min": min(within_4h, round(incidents * p15[j] / 100)),
            "sd_resolved_4h": within_4h,
            "sd_over_16h": min(incidents - within_4h, round(incidents * p16[j] / 100)),
            "availability_network_pct": round(100 - lost[j] * net_share, 3),
            "availability_key_apps_pct": round(100 - lost[j] * (1 - net_share), 3),
            "pi_satisfaction_mean": round(pi_sat[j], 2),
            **{
                q: _pick(rng, practice)
                for q in (
                    "pm_business_case",
                    "pm_benefits_measured",
                    "pm_post_implementation_review",
                    "pm_project_board",
                    "pm_risk_register",
                )
            },
            "pq_on_time_pct": round(min(100.0, max(0.0, rng.gauss(62, 15))), 1),
            "pq_on_budget_pct": round(min(100.0, max(0.0, rng.gauss(70, 15))), 1),
            "pq_benefits_realised_pct": round(min(100.0, max(0.0, rng.gauss(55, 18))), 1),
        }
        spend = round(u * spend_per_user[j], 2)
        out[(org_id, "cost")] = {
            "ict_spend": spend,
            "revenue_spend": round(spend * 100 / spend_pct[j], 2),
            "workstation_cost": round(workstations * cost_per_ws[j], 2),
            "support_cost": round(u * support_per_user[j], 2),
            "network_cost": round(u * network_per_user[j], 2),
        }
        surveyed = round(u * rng.uniform(0.9, 1.0))
        shift = overall[j] - _target("us_overall_satisfaction", year)
        satisfaction: dict[str, object] = {
            "us_users_surveyed": surveyed,
            "us_responses": min(surveyed, round(surveyed * response_rate[j] / 100)),
            "us_overall_satisfaction_mean": round(overall[j], 2),
            "us_improvement_mean": round(improvement[j], 2),
        }
        for k in range(20):
            sat = min(7.0, max(1.0, factor_base[k] + shift + rng.gauss(0, 0.25)))
            imp = min(7.0, max(1.0, importance_base[k] + rng.gauss(0, 0.2)))
            satisfaction[f"us_s{k + 1}_satisfaction_mean"] = round(sat, 2)
            satisfaction[f"us_s{k + 1}_importance_mean"] = round(imp, 2)
        out[(org_id, "user_satisfaction")] = satisfaction
        out[(org_id, "user_skills")] = {
            "skills_respondents": round(u * rng.uniform(0.05, 0.25)),
            "skills_it_literacy_mean": round(min(5.0, max(1.0, rng.gauss(3.8, 0.3))), 2),
            "skills_policy_understanding_mean": round(min(5.0, max(1.0, rng.gauss(3.4, 0.35))), 2),
        }
        maturity = rng.gauss(2.6 + 0.12 * (year - 2016), 0.5)
        out[(org_id, "sdma")] = {
            "sdma_respondents": rng.randint(3, 12),
            **{
                f"sdma_m{k}_level": round(min(5.0, max(1.0, maturity + rng.gauss(0, 0.4))), 2)
                for k in range(1, 10)
            },
        }
    return out


def generate_benchmark_data(seed: int = 2020) -> DemoDataset:
    """The demo data set for ``seed`` (same seed, same data)."""
    rng = random.Random(seed)
    orgs, base_users = _organisations(rng)
    participation = _participation(rng, orgs)
    cycles = [DemoCycle(y, f"{y - 1}/{y % 100:02d}", f"{(y - 1) % 100:02d}") for y in CYCLE_YEARS]
    submissions: list[DemoSubmission] = []
    for year in CYCLE_YEARS:
        catalogue = load_catalogue(year)
        participants = participation[year]
        states = _states(rng, year, participants)
        answers = _cycle_answers(rng, year, participants, base_users, states)
        for (org_id, module), state in sorted(states.items()):
            asked = catalogue.questions_for(module)
            given = {k: v for k, v in answers[(org_id, module)].items() if k in asked}
            if state == "draft":
                # A draft is half filled in.
                given = dict(list(given.items())[: max(1, len(given) // 2)])
            submissions.append(DemoSubmission(org_id, year, module, state, given))
    return DemoDataset(orgs, cycles, submissions)
