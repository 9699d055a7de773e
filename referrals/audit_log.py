"""Reading the audit log: the administrator's filters, keyset pages, the rows as shown
(with the patient's chart number), the CSV export, and "who has seen this record".

The log itself and its writer live in ``practices`` (``practices.audit``); reading it
lives here because showing an entry names the patient by chart number, and patients are
this app's.

Pages are keyset pages on ``(at, id)``, newest first: every page costs the same however
deep it is and however many millions of entries the practice has, and it rides the
indexes that begin with the practice (``(practice, at)``, ``(practice, patient_id, at)``,
``(practice, actor_user, at)``, ``(practice, action, at)``). No COUNT(*) is ever run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django import forms
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from practices.models import ActorKind, AuditAction, AuditEntry, Membership, Practice
from practices.scoping import practice_scope

from .models import Patient

PAGE_SIZE = 50
PATIENT_PANEL_SIZE = 10
CSV_CHUNK = 2000
ACCOUNT_ACTIONS = frozenset(
    {
        AuditAction.LOGIN,
        AuditAction.LOGOUT,
        AuditAction.IDLE_LOGOUT,
        AuditAction.LOGIN_FAILED,
        AuditAction.LOCKED_OUT,
        AuditAction.UNLOCKED,
        AuditAction.PASSWORD_CHANGED,
        AuditAction.PASSWORD_RESET,
        AuditAction.MFA_ENABLED,
        AuditAction.MFA_DISABLED,
        AuditAction.MFA_FAILED,
        AuditAction.RECOVERY_CODES,
        AuditAction.INVITED,
        AuditAction.INVITATION_ACCEPTED,
        AuditAction.ROLE_CHANGED,
        AuditAction.DEACTIVATED,
    }
)
# Actors without an account, offered in the "person" filter after the members.
OTHER_ACTORS = [
    (ActorKind.API_KEY.value, "Any API key"),
    (ActorKind.STATUS_TOKEN.value, "Any GP status link"),
    (ActorKind.ANONYMOUS.value, "Unknown person (public form, failed logins)"),
    (ActorKind.SYSTEM.value, "System"),
]


def _action_choices() -> list:
    patient_data = [(a.value, a.label) for a in AuditAction if a not in ACCOUNT_ACTIONS]
    accounts = [(a.value, a.label) for a in AuditAction if a in ACCOUNT_ACTIONS]
    return [("", "Any action"), ("Patient data", patient_data), ("Accounts", accounts)]


def people_choices() -> list[tuple[str, str]]:
    """The practice's members (deactivated ones too: their history stays), then the
    actors that are not people."""
    members = (
        Membership.objects.select_related("user")
        .order_by("user__email")
        .values_list("user_id", "user__email")
    )
    return [("", "Anyone"), *((str(pk), email) for pk, email in members), *OTHER_ACTORS]


class AuditLogFilterForm(forms.Form):
    person = forms.ChoiceField(label="Person", required=False)
    chart = forms.CharField(label="Patient chart no.", required=False, max_length=50)
    action = forms.ChoiceField(label="Action", required=False, choices=_action_choices)
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = people_choices()

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "“To” must be on or after “From”.")
        return data


@dataclass
class AuditFilters:
    person: str = ""
    chart: str = ""
    action: str = ""
    start: dt.date | None = None
    end: dt.date | None = None

    @classmethod
    def from_form(cls, form: AuditLogFilterForm) -> AuditFilters:
        if not form.is_bound:
            return cls()
        data = form.cleaned_data if form.is_valid() else {}
        return cls(
            person=data.get("person") or "",
            chart=(data.get("chart") or "").strip(),
            action=data.get("action") or "",
            start=data.get("start"),
            end=data.get("end"),
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.person or self.chart or self.action or self.start or self.end)

    def describe(self, people: dict[str, str]) -> str:
        """The filters in words, for the export's own audit entry (no chart number: the
        entry's patient says which patient)."""
        parts = []
        if self.person:
            parts.append(f"person {people.get(self.person, self.person)}")
        if self.chart:
            parts.append("one patient")
        if self.action:
            parts.append(f"action {self.action}")
        if self.start:
            parts.append(f"from {self.start.isoformat()}")
        if self.end:
            parts.append(f"to {self.end.isoformat()}")
        return ", ".join(parts) or "everything"


def patient_for_chart(chart: str) -> Patient | None:
    if not chart:
        return None
    return Patient.objects.filter(chart_number__iexact=chart).only("pk", "chart_number").first()


def _day_start(day: dt.date) -> dt.datetime:
    # The practice's days (the middleware or the export has entered its time zone).
    return dt.datetime.combine(day, dt.time(), timezone.get_current_timezone())


def filtered_entries(filters: AuditFilters, patient: Patient | None) -> QuerySet[AuditEntry]:
    """The entries the filters ask for, in the current practice's scope. A chart number
    that names no patient matches nothing (never everything)."""
    entries = AuditEntry.objects.all()
    if filters.person.isdigit():
        entries = entries.filter(actor_user_id=int(filters.person))
    elif filters.person in ActorKind.values:
        entries = entries.filter(actor_kind=filters.person)
    if filters.chart:
        entries = entries.filter(patient_id=patient.pk) if patient else entries.none()
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.start:
        entries = entries.filter(at__gte=_day_start(filters.start))
    if filters.end:
        entries = entries.filter(at__lt=_day_start(filters.end + dt.timedelta(days=1)))
    return entries


# --- keyset pages -----------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,20})$")


def cursor_of(entry: AuditEntry) -> str:
    micros = (entry.at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros}-{entry.pk}"


def parse_cursor(value: str | None) -> tuple[dt.datetime, int] | None:
    match = _CURSOR.match(value or "")
    if not match:
        return None
    return _EPOCH + dt.timedelta(microseconds=int(match[1])), int(match[2])


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    older: str | None  # cursor for the next (older) page
    newer: str | None  # cursor for the previous (newer) page
    is_first: bool


def page_of(entries: QuerySet[AuditEntry], *, before: str = "", after: str = "") -> AuditPage:
    """One page of ``entries``, newest first, before or after a cursor."""
    if (cursor := parse_cursor(after)) is not None:
        at, pk = cursor
        # at >= x keeps the range condition on the index; the OR settles ties on id.
        newer = entries.filter(Q(at__gte=at) & (Q(at__gt=at) | Q(pk__gt=pk)))
        rows = list(newer.order_by("at", "id")[: PAGE_SIZE + 1])
        more_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        return AuditPage(
            entries=rows,
            older=cursor_of(rows[-1]) if rows else before or None,
            newer=cursor_of(rows[0]) if rows and more_newer else None,
            is_first=not more_newer,
        )
    cursor = parse_cursor(before)
    if cursor is not None:
        at, pk = cursor
        entries = entries.filter(Q(at__lte=at) & (Q(at__lt=at) | Q(pk__lt=pk)))
    rows = list(entries.order_by("-at", "-id")[: PAGE_SIZE + 1])
    more_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return AuditPage(
        entries=rows,
        older=cursor_of(rows[-1]) if rows and more_older else None,
        newer=cursor_of(rows[0]) if rows and cursor is not None else None,
        is_first=cursor is None,
    )


# --- rows as shown ----------------------------------------------------------------------

_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "Python requests"),
    ("python-httpx/", "Python httpx"),
]
_SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def short_user_agent(user_agent: str) -> str:
    """'Chrome 131 on Windows' for a browser; the first words of anything else."""
    if not user_agent:
        return ""
    browser = ""
    for token, name in _BROWSERS:
        if token in user_agent:
            version = user_agent.split(token, 1)[1].split(".", 1)[0].split(" ", 1)[0]
            if name == "Safari" and "Version/" in user_agent:
                version = user_agent.split("Version/", 1)[1].split(".", 1)[0]
            browser = f"{name} {version}".strip() if version.isdigit() else name
            break
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    return user_agent if len(user_agent) <= 30 else f"{user_agent[:29]}…"


_OBJECT_NAMES = {
    "patient": "Patient",
    "referral": "Case",
    "milestoneevent": "Step",
    "letter": "Letter",
    "attachment": "Attachment",
    "onlinereferral": "Online referral",
    "importjob": "Import",
    "report": "Report",
    "statuslink": "GP status link",
    "account": "Account",
    "auditentry": "Audit log",
}


@dataclass
class AuditRow:
    entry: AuditEntry
    chart_number: str
    object_label: str
    object_url: str
    patient_url: str
    user_agent_short: str


def _object_url(entry: AuditEntry) -> str:
    if not entry.object_id.isdigit():
        return ""
    if entry.object_type == "patient":
        return reverse("patient_detail", args=[int(entry.object_id)])
    if entry.object_type == "referral":
        return reverse("referral_detail", args=[int(entry.object_id)])
    return ""


def _object_label(entry: AuditEntry) -> str:
    name = _OBJECT_NAMES.get(entry.object_type, entry.object_type.replace("_", " ").title())
    if entry.object_id:
        return (
            f"{name} #{entry.object_id}"
            if entry.object_id.isdigit()
            else f"{name} {entry.object_id}"
        )
    if entry.count is not None:
        return f"{entry.count} × {name.lower()}"
    return name


def chart_numbers(patient_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {pk for pk in patient_ids if pk is not None}
    if not ids:
        return {}
    return dict(Patient.objects.filter(pk__in=ids).values_list("pk", "chart_number"))


def rows_of(entries: list[AuditEntry]) -> list[AuditRow]:
    """The entries as the table shows them: one more query for the page's chart numbers."""
    charts = chart_numbers(e.patient_id for e in entries)
    return [
        AuditRow(
            entry=e,
            chart_number=charts.get(e.patient_id, "") if e.patient_id else "",
            object_label=_object_label(e),
            object_url=_object_url(e),
            patient_url=reverse("patient_detail", args=[e.patient_id]) if e.patient_id else "",
            user_agent_short=short_user_agent(e.user_agent),
        )
        for e in entries
    ]


def recent_about_patient(patient_id: int, limit: int = PATIENT_PANEL_SIZE) -> list[AuditEntry]:
    """Who has seen this record: the latest entries about one patient (one query)."""
    return list(AuditEntry.objects.filter(patient_id=patient_id).order_by("-at", "-id")[:limit])


# --- CSV --------------------------------------------------------------------------------

CSV_HEADER = [
    "id",
    "when",
    "actor kind",
    "who",
    "action",
    "object type",
    "object id",
    "patient chart number",
    "patient id",
    "count",
    "summary",
    "address",
    "user agent",
    "path",
]


def _chunks(iterable: Iterable[AuditEntry], size: int) -> Iterator[list[AuditEntry]]:
    chunk: list[AuditEntry] = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def csv_rows(practice: Practice, filters: AuditFilters, patient_id: int | None) -> Iterator[list]:
    """Every filtered entry as a CSV row, newest first, read in chunks from a cursor.

    The response streams after the view has returned, outside the middleware's scope and
    time zone, so the generator enters both itself (and with them the practice's
    row-level-security setting).
    """
    with practice_scope(practice), timezone.override(practice.time_zone):
        patient = Patient.objects.filter(pk=patient_id).first() if patient_id else None
        entries = filtered_entries(filters, patient).order_by("-at", "-id")
        for chunk in _chunks(entries.iterator(chunk_size=CSV_CHUNK), CSV_CHUNK):
            charts = chart_numbers(e.patient_id for e in chunk)
            for e in chunk:
                yield [
                    e.pk,
                    timezone.localtime(e.at).isoformat(timespec="seconds"),
                    e.actor_kind,
                    e.actor_label,
                    e.action,
                    e.object_type,
                    e.object_id,
                    charts.get(e.patient_id, "") if e.patient_id else "",
                    e.patient_id or "",
                    "" if e.count is None else e.count,
                    e.summary,
                    e.ip_address or "",
                    e.user_agent,
                    e.path,
                ]
