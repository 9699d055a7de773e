"""How many referrals each demo office sends, when, and for what.

Each office gets a *profile* (a steady top referrer, a long-tail office, one that drifts
down like the article's GPs, a new one, a lost one...) that gives its expected rate per
month; a month's count is a Poisson draw of that rate times the season of its case mix.
The result is a plain list of :class:`ReferralPlan`, sorted by date; nothing touches the
database here.
"""

import calendar
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from enum import StrEnum

from ..choices import CaseType as C
from ..choices import SourceType, Urgency
from . import names


class Profile(StrEnum):
    TOP = "top"  # 5-10 a month, steady
    MID = "mid"  # 2-4.5 a month
    TAIL = "tail"  # the long tail: a few a year to ~2 a month
    DECLINING = "declining"  # ~6 (or ~10) a month, then ~2 a month for the last 8 months
    NEW = "new"  # first referral ever within the last 90 days
    LOST = "lost"  # referred, then nothing for more than 12 months
    INACTIVE = "inactive"  # nothing for 4-10 months
    GROWING = "growing"  # started 14-24 months ago and ramps up


# Out of 47 offices (the article's practice); scaled for other sizes, the rest are TAIL.
PROFILE_SHARES = (
    (Profile.DECLINING, 3),
    (Profile.NEW, 3),
    (Profile.LOST, 3),
    (Profile.TOP, 4),
    (Profile.INACTIVE, 2),
    (Profile.MID, 9),
    (Profile.GROWING, 1),
)
SPECIALIST_SHARE = 4 / 47
# The article's drift: down to ~2 a month over the last ~8 months.
DRIFT_MONTHS = 8
DRIFT_SLIDE_MONTHS = 2

CASE_MIX_GP = {
    C.THIRD_MOLARS: 38,
    C.IMPLANTS: 24,
    C.EXTRACTIONS: 14,
    C.BONE_GRAFT: 8,
    C.BIOPSY: 5,
    C.TMJ: 3,
    C.ORTHOGNATHIC: 2,
    C.TRAUMA: 2,
    C.OTHER: 4,
}
CASE_MIX_SPECIALIST = {
    "Periodontics": {C.IMPLANTS: 45, C.BONE_GRAFT: 30, C.EXTRACTIONS: 15, C.BIOPSY: 10},
    "Orthodontics": {C.THIRD_MOLARS: 55, C.ORTHOGNATHIC: 25, C.EXTRACTIONS: 15, C.OTHER: 5},
    "Endodontics": {C.EXTRACTIONS: 55, C.IMPLANTS: 35, C.BIOPSY: 10},
    "Pediatric Dentistry": {
        C.THIRD_MOLARS: 40,
        C.EXTRACTIONS: 35,
        C.TRAUMA: 15,
        C.OTHER: 10,
    },
}
CASE_MIX_NO_OFFICE = {
    C.THIRD_MOLARS: 35,
    C.IMPLANTS: 30,
    C.EXTRACTIONS: 15,
    C.TMJ: 6,
    C.TRAUMA: 5,
    C.BONE_GRAFT: 4,
    C.OTHER: 5,
}
NO_OFFICE_SOURCES = {
    SourceType.SELF: 35,
    SourceType.WEBSITE: 30,
    SourceType.INSURANCE: 15,
    SourceType.EVENT: 8,
    SourceType.OTHER: 12,
}
# Patients who come without a dentist, relative to the offices' combined rate.
NO_OFFICE_SHARE = 0.09

# Month (1-12) -> relative volume. Third molars peak when students are off school (summer
# and winter break); other work dips in summer and the holidays and picks up in January
# (new dental benefits) and in the autumn (benefits to use up before year end).
_SEASON_RAW = {
    C.THIRD_MOLARS: (0.9, 0.85, 1.05, 1.0, 1.05, 1.45, 1.55, 1.4, 0.8, 0.8, 0.9, 1.3),
    C.TRAUMA: (0.9, 0.9, 1.0, 1.0, 1.1, 1.25, 1.3, 1.2, 1.0, 0.95, 0.9, 0.9),
    None: (1.1, 1.0, 1.05, 1.0, 1.0, 0.95, 0.85, 0.9, 1.0, 1.05, 1.1, 0.9),
}
SEASON = {key: tuple(v * 12 / sum(values) for v in values) for key, values in _SEASON_RAW.items()}


def season(case_type: str, month: int) -> float:
    return SEASON.get(case_type, SEASON[None])[month - 1]


@dataclass
class OfficePlan:
    index: int
    profile: Profile
    name: str
    specialty: str | None  # e.g. "Periodontics"; None for a general dentist
    base_rate: float  # referrals a month at the office's usual pace
    recent_rate: float = 0.0  # DECLINING: the pace of the last months
    active_from: dt.date | None = None  # NEW / GROWING: the first referral ever
    active_until: dt.date | None = None  # LOST / INACTIVE: the last referral
    providers: list[tuple[str, str, str]] = field(default_factory=list)  # first, last, npi
    accept_factor: float = 1.0  # how well this office's patients convert
    months_active_at_start: float = 0.0  # GROWING: how long ago it started

    @property
    def case_mix(self) -> dict[str, int]:
        return CASE_MIX_SPECIALIST[self.specialty] if self.specialty else CASE_MIX_GP

    def rate(self, months_ago: float) -> float:
        if self.profile == Profile.DECLINING:
            if months_ago <= DRIFT_MONTHS:
                return self.recent_rate
            slide = (months_ago - DRIFT_MONTHS) / DRIFT_SLIDE_MONTHS
            if slide >= 1:
                return self.base_rate
            return self.recent_rate + slide * (self.base_rate - self.recent_rate)
        if self.profile == Profile.GROWING and self.active_from is not None:
            # Ramps linearly from 1 a month at its start to base_rate now.
            span = max(1.0, self.months_active_at_start)
            return 1.0 + (self.base_rate - 1.0) * max(0.0, 1 - months_ago / span)
        return self.base_rate


@dataclass
class ReferralPlan:
    received_on: dt.date
    source_type: str
    case_type: str
    urgency: str
    office: int | None = None  # index into the office plans
    provider: int | None = None  # index into that office's providers
    returning: bool = False  # a patient of this office coming back with a new problem


def profile_mix(count: int) -> list[Profile]:
    profiles: list[Profile] = []
    for profile, share in PROFILE_SHARES:
        k = min(max(1, round(count * share / 47)), count - len(profiles))
        profiles += [profile] * k
    return profiles + [Profile.TAIL] * (count - len(profiles))


def plan_offices(rng: random.Random, count: int, today: dt.date) -> list[OfficePlan]:
    profiles = profile_mix(count)
    rng.shuffle(profiles)
    specialists = round(count * SPECIALIST_SHARE)
    office_names = names.office_names(rng, count, specialists)
    # Specialists are spread over the profiles too (a periodontist can drift away as well).
    rng.shuffle(office_names)
    plans = []
    declining_seen = 0
    for i, (profile, (name, is_specialist)) in enumerate(zip(profiles, office_names, strict=True)):
        specialty = _specialty_of(name) if is_specialist else None
        big = profile == Profile.DECLINING and declining_seen % 3 == 0
        declining_seen += profile == Profile.DECLINING
        plan = OfficePlan(i, profile, name, specialty, base_rate=_base_rate(rng, profile, big))
        if profile == Profile.DECLINING:
            plan.recent_rate = rng.uniform(1.6, 2.3)
        elif profile == Profile.NEW:
            plan.active_from = today - dt.timedelta(days=rng.randrange(8, 80))
        elif profile == Profile.GROWING:
            plan.months_active_at_start = rng.uniform(14, 24)
            plan.active_from = today - dt.timedelta(days=round(plan.months_active_at_start * 30.4))
        elif profile == Profile.LOST:
            plan.active_until = today - dt.timedelta(days=rng.randrange(400, 670))
        elif profile == Profile.INACTIVE:
            plan.active_until = today - dt.timedelta(days=rng.randrange(120, 300))
        provider_count = rng.choices((1, 2, 3), weights=(45, 35, 20))[0]
        for _ in range(provider_count):
            first, last = names.person_name(rng)
            plan.providers.append((first, last, names.npi(rng) if rng.random() < 0.7 else ""))
        plan.accept_factor = rng.uniform(0.85, 1.1)
        plans.append(plan)
    return plans


def _specialty_of(name: str) -> str:
    return next(s for s in names.SPECIALIST_SUFFIXES if s in name)


def _base_rate(rng: random.Random, profile: Profile, big: bool) -> float:
    if profile == Profile.TOP:
        return rng.uniform(5, 9.5)
    if profile == Profile.MID:
        return rng.uniform(2, 4.5)
    if profile == Profile.DECLINING:
        # One in three is a big office (the article's threshold rule: >= 8 a month, then
        # <= 3); the others drift from ~6 like the article's three GPs.
        return rng.uniform(9.5, 11) if big else rng.uniform(5.5, 7)
    if profile == Profile.GROWING:
        return rng.uniform(3.5, 5)
    if profile in (Profile.NEW, Profile.LOST, Profile.INACTIVE):
        return rng.uniform(1.2, 3.5)
    # The long tail: most offices send a case every month or two.
    return 0.15 + 1.65 * rng.random() ** 1.5


def window_start(today: dt.date, years: int) -> dt.date:
    """The first day of ``years`` years of history up to ``today``."""
    year = today.year - years
    day = min(today.day, calendar.monthrange(year, today.month)[1])  # 29 Feb -> 28 Feb
    return today.replace(year=year, day=day)


def plan_referrals(
    rng: random.Random, offices: list[OfficePlan], start: dt.date, today: dt.date
) -> list[ReferralPlan]:
    """Every referral of the window [start, today), oldest first."""
    end = today - dt.timedelta(days=1)
    calendar_ = _Calendar(start, end)
    plans: list[ReferralPlan] = []
    for office in offices:
        plans += _office_referrals(rng, office, calendar_, today)
    plans += _no_office_referrals(rng, offices, calendar_, today)
    plans.sort(key=lambda p: p.received_on)  # stable: same-day order stays deterministic
    return plans


class _Calendar:
    """The weekdays of each month of the window (GP offices refer on working days)."""

    def __init__(self, start: dt.date, end: dt.date):
        self.start, self.end = start, end
        self.months: list[tuple[dt.date, dt.date, list[dt.date]]] = []
        first = start.replace(day=1)
        while first <= end:
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            days = [
                first + dt.timedelta(days=i)
                for i in range(last.day)
                if (first + dt.timedelta(days=i)).weekday() < 5
            ]
            self.months.append((first, last, days))
            first = last + dt.timedelta(days=1)

    def spans(self, lo: dt.date, hi: dt.date):
        """(month, weekdays of the month within [lo, hi], share of the month's weekdays)."""
        for first, last, days in self.months:
            if last < lo or first > hi:
                continue
            inside = days if lo <= first and last <= hi else [d for d in days if lo <= d <= hi]
            if inside:
                yield first, inside, len(inside) / len(days)


def _office_referrals(
    rng: random.Random, office: OfficePlan, cal: _Calendar, today: dt.date
) -> list[ReferralPlan]:
    lo = max(cal.start, office.active_from or cal.start)
    hi = min(cal.end, office.active_until or cal.end)
    if lo > hi:
        # A history too short for the profile (e.g. --years 1 and a lost office): it
        # referred once, at the start of the window.
        lo = hi = cal.start
    # Pin the ends of the relationship, so "new", "lost" and "inactive" are what they say
    # and every established office starts before the window's first weeks are over.
    if office.profile in (Profile.NEW, Profile.GROWING):
        pinned = [lo]
    elif office.profile in (Profile.LOST, Profile.INACTIVE):
        pinned = [hi]
    else:
        pinned = [min(hi, lo + dt.timedelta(days=rng.randrange(45)))]
    dates = [_weekday_within(d, lo, hi) for d in pinned]
    mix = office.case_mix
    for month, days, share in cal.spans(lo, hi):
        months_ago = (today - month).days / 30.44 - 0.5
        expected = office.rate(months_ago) * _mix_season(mix, month.month) * share
        dates += [rng.choice(days) for _ in range(poisson(rng, expected))]
    dates.sort()
    source = SourceType.SPECIALIST if office.specialty else SourceType.DOCTOR
    provider_weights = (3, 1, 1)[: len(office.providers)]
    plans = []
    for n, day in enumerate(dates):
        case_type = _choose(rng, mix, day.month)
        plans.append(
            ReferralPlan(
                received_on=day,
                source_type=source,
                case_type=case_type,
                urgency=_urgency(rng, case_type),
                office=office.index,
                provider=rng.choices(range(len(provider_weights)), provider_weights)[0],
                # A patient of the office back with a new problem (an implant after an
                # extraction...): the same patient, a second referral.
                returning=n > 2 and rng.random() < 0.04,
            )
        )
    return plans


def _no_office_referrals(
    rng: random.Random, offices: list[OfficePlan], cal: _Calendar, today: dt.date
) -> list[ReferralPlan]:
    rate = max(1.0, NO_OFFICE_SHARE * sum(o.base_rate for o in offices))
    sources = list(NO_OFFICE_SOURCES)
    weights = list(NO_OFFICE_SOURCES.values())
    plans = []
    for month, days, share in cal.spans(cal.start, cal.end):
        expected = rate * _mix_season(CASE_MIX_NO_OFFICE, month.month) * share
        for day in sorted(rng.choice(days) for _ in range(poisson(rng, expected))):
            case_type = _choose(rng, CASE_MIX_NO_OFFICE, day.month)
            plans.append(
                ReferralPlan(
                    received_on=day,
                    source_type=rng.choices(sources, weights)[0],
                    case_type=case_type,
                    urgency=_urgency(rng, case_type),
                )
            )
    return plans


def _weekday_within(day: dt.date, lo: dt.date, hi: dt.date) -> dt.date:
    for step in (1, -1):
        d = day
        while lo <= d <= hi:
            if d.weekday() < 5:
                return d
            d += dt.timedelta(days=step)
    return day


def _mix_season(mix: dict[str, int], month: int) -> float:
    return sum(w * season(c, month) for c, w in mix.items()) / sum(mix.values())


def _choose(rng: random.Random, mix: dict[str, int], month: int) -> str:
    kinds = list(mix)
    return rng.choices(kinds, [mix[c] * season(c, month) for c in kinds])[0]


def _urgency(rng: random.Random, case_type: str) -> str:
    urgent, soon = {C.TRAUMA: (0.6, 0.3), C.BIOPSY: (0.1, 0.5)}.get(case_type, (0.02, 0.08))
    x = rng.random()
    return Urgency.URGENT if x < urgent else Urgency.SOON if x < urgent + soon else Urgency.ROUTINE


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method; a normal approximation for large means)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
