"""Letters to referring GPs, from an outbox row to words on a page and a PDF.

The practice's template (or the default wording) is rendered in the sandbox
(communications/sandbox.py) on a dictionary of plain strings prepared here — never on model
instances — and then set in the printable letter document (letterhead, date, addresses,
"Re:" line, signature, footer: templates/communications/letter.html). The PDF is made
from that document by WeasyPrint (see ``pdf_from_html`` for the settings and why).

Which milestone a letter describes: the ``Letter.event``. The other facts (the consult's
findings in a surgery letter, the surgery in a post-op update) come from the case's
non-void events up to that letter's moment, so a letter re-rendered later reads the same.
"""

import base64
import datetime as dt
import hashlib
import html as html_lib
import mimetypes
import re
import threading
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import dateformat, timezone
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe

from practices.models import Membership, Practice, PracticeSettings
from referrals.choices import MilestoneKind as M
from referrals.models import MilestoneEvent, Referral, ReferringProvider

from .models import Letter, LetterKind
from .sandbox import LetterDate, render
from .sandbox import validate_template as validate_template
from .templates_service import template_for

# The milestone each kind of letter hangs on, as the triggers (communications/letters.py)
# write them: post-op concluded when a case that had its surgery is closed, post-op updates
# N days after the surgery. The editor's preview picks a case's event of this kind.
MILESTONE_OF_KIND: dict[str, str] = {
    LetterKind.CONSULT_SCHEDULED: M.CONSULT_SCHEDULED,
    LetterKind.CONSULT_COMPLETED: M.CONSULT_COMPLETED,
    LetterKind.SURGERY_SCHEDULED: M.SURGERY_SCHEDULED,
    LetterKind.POSTOP_CONCLUDED: M.CLOSED,
    LetterKind.POSTOP_UPDATE: M.SURGERY_COMPLETED,
}
# A logo is embedded in every PDF: a big one is a mistake that would bloat every letter.
MAX_LOGO_BYTES = 1_000_000


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    body_html: str  # the body's paragraphs, every value escaped
    body_text: str
    html: str  # the whole printable document, letterhead to footer


# --- The variables -----------------------------------------------------------------------


def _text(value) -> str:
    return "" if value is None else str(value)


def _one_line(*parts: str) -> str:
    return ", ".join(part.strip() for part in parts if part and part.strip())


def _doctor(provider: ReferringProvider | None) -> dict[str, str]:
    if provider is None:
        return {"name": "", "first_name": "", "last_name": ""}
    return {
        "name": f"Dr. {provider.first_name} {provider.last_name}".strip(),
        "first_name": provider.first_name,
        "last_name": provider.last_name,
    }


def _cached_or_fetch(instance, field: str, queryset):
    """``instance.<field>`` without a query when the caller already loaded it."""
    if instance._meta.get_field(field).is_cached(instance):
        return getattr(instance, field)
    return queryset.get(pk=getattr(instance, f"{field}_id"))


@dataclass
class _Facts:
    """What one letter says, gathered from the database once, before any rendering."""

    letter: Letter
    practice: Practice
    referral: Referral
    event: MilestoneEvent | None
    history: list[MilestoneEvent]
    provider: ReferringProvider | None
    recipient_provider: ReferringProvider | None
    surgeon: Membership | None
    letter_date: dt.date
    tz: ZoneInfo

    def latest(self, *kinds: str) -> MilestoneEvent | None:
        if self.event is not None and self.event.kind in kinds:
            return self.event
        return next((e for e in reversed(self.history) if e.kind in kinds), None)

    def local(self, moment: dt.datetime | None) -> dt.datetime | None:
        return moment.astimezone(self.tz) if moment else None


def _surgeons(practice: Practice) -> list[Membership]:
    return list(
        Membership.objects.filter(practice=practice, is_surgeon=True)
        .select_related("user")
        .order_by("created_at", "id")
    )


def _gather(letter: Letter) -> _Facts:
    practice = _cached_or_fetch(letter, "practice", Practice.objects)
    referral = _cached_or_fetch(
        letter,
        "referral",
        Referral.objects.select_related("patient", "referring_provider", "referring_office"),
    )
    tz = ZoneInfo(practice.time_zone)
    event = letter.event if letter.event_id else None
    # The case as it stood when the letter was due (a post-op update reports the visits
    # before its day), so a letter opened again later says what it said then.
    until = event.occurred_at if event else timezone.now()
    if letter.kind == LetterKind.POSTOP_UPDATE and letter.due_at:
        until = max(until, letter.due_at)
    history = list(
        MilestoneEvent.objects.filter(
            referral_id=referral.pk, voided_at__isnull=True, occurred_at__lte=until
        ).order_by("occurred_at", "id")
    )
    provider = referral.referring_provider
    recipient_provider = None
    kind, _, key = (letter.recipient_key or "").partition(":")
    if kind == "provider" and key.isdigit():
        if provider is not None and provider.pk == int(key):
            recipient_provider = provider
        else:
            recipient_provider = ReferringProvider.objects.filter(pk=int(key)).first()
    surgeons = _surgeons(practice)
    recorded_by = event.recorded_by_id if event else None
    surgeon = next((m for m in surgeons if m.user_id == recorded_by), None) or next(
        iter(surgeons), None
    )
    moment = letter.sent_at or timezone.now()
    return _Facts(
        letter=letter,
        practice=practice,
        referral=referral,
        event=event,
        history=history,
        provider=recipient_provider or provider,
        recipient_provider=recipient_provider,
        surgeon=surgeon,
        letter_date=moment.astimezone(tz).date(),
        tz=tz,
    )


def _variables(facts: _Facts) -> dict:
    letter, referral, practice = facts.letter, facts.referral, facts.practice
    patient = referral.patient
    office = letter.office if letter.office_id else referral.referring_office
    doctor = _doctor(facts.provider)

    appointment = facts.event if facts.event and facts.event.scheduled_for else None
    if appointment is None:
        wanted = {
            LetterKind.CONSULT_SCHEDULED: (M.CONSULT_SCHEDULED,),
            LetterKind.SURGERY_SCHEDULED: (M.SURGERY_SCHEDULED,),
        }.get(letter.kind, (M.SURGERY_SCHEDULED, M.CONSULT_SCHEDULED))
        appointment = facts.latest(*wanted)
    booked = facts.local(appointment.scheduled_for) if appointment else None

    consult = facts.latest(M.CONSULT_COMPLETED)
    if letter.kind == LetterKind.SURGERY_SCHEDULED:
        surgery = facts.latest(M.SURGERY_SCHEDULED)
    else:
        surgery = facts.latest(M.SURGERY_COMPLETED) or facts.latest(M.SURGERY_SCHEDULED)
    if surgery is None:
        surgery_day = None
    elif surgery.kind == M.SURGERY_SCHEDULED:
        surgery_day = facts.local(surgery.scheduled_for)
    else:
        surgery_day = facts.local(surgery.occurred_at)
    postop = facts.latest(M.POSTOP_VISIT)
    plan_event = facts.latest(M.SURGERY_COMPLETED, M.CLOSED)
    if plan_event is not None and not plan_event.note and plan_event.kind == M.CLOSED:
        plan_event = facts.latest(M.SURGERY_COMPLETED)

    surgeon = facts.surgeon
    user = surgeon.user if surgeon else None
    return {
        "patient": {
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "name": f"{patient.first_name} {patient.last_name}".strip(),
            "initials": patient.initials,
            # Imported history may not know it: the letter says so rather than
            # leaving a blank after "DOB".
            "date_of_birth": (
                LetterDate(patient.date_of_birth) if patient.date_of_birth else "unknown"
            ),
        },
        "provider": doctor,
        "recipient": {
            "name": letter.recipient_name
            or (_doctor(facts.recipient_provider)["name"] if facts.recipient_provider else "")
            or (office.name if office else ""),
            "salutation": f"Dr. {doctor['last_name']}" if doctor["last_name"] else "Doctor",
        },
        "office": {
            "name": office.name if office else "",
            "address": _one_line(
                office.address, office.city, f"{office.state} {office.zip_code}".strip()
            )
            if office
            else "",
            "phone": office.phone if office else "",
        },
        "surgeon": {
            "name": user.get_full_name() if user else "",
            "last_name": user.last_name if user else "",
            "credentials": surgeon.credentials if surgeon else "",
        },
        "practice": {
            "name": practice.name,
            "phone": practice.phone,
            "address": _one_line(*practice.address.splitlines()),
        },
        "referral": {
            "received_on": LetterDate(referral.received_on),
            "case_type": referral.get_case_type_display(),
            "reason": referral.reason,
            "urgency": referral.get_urgency_display(),
        },
        "appointment": {
            "date": LetterDate(booked.date() if booked else None),
            "time": dateformat.time_format(booked, "g:i A") if booked else "",
        },
        "consult": {
            "date": LetterDate(facts.local(consult.occurred_at).date() if consult else None),
            "findings": consult.findings if consult else "",
            "recommendation": consult.recommendation if consult else "",
        },
        "surgery": {
            "procedure": surgery.procedure if surgery else "",
            "date": LetterDate(surgery_day.date() if surgery_day else None),
        },
        "postop": {
            "days": str(letter.interval_days) if letter.interval_days else "",
            "note": postop.note if postop else "",
        },
        "followup": {"plan": plan_event.note if plan_event else ""},
        "today": LetterDate(facts.letter_date),
    }


def letter_variables(letter: Letter) -> dict:
    """The safe variables of one letter: nested dictionaries of plain strings."""
    return _variables(_gather(letter))


# --- The document ------------------------------------------------------------------------


def _paragraphs(rendered_html: str) -> list[str]:
    """Blank lines separate paragraphs; a single line break stays a line break. Paragraphs
    left empty by an {% if %} disappear."""
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", rendered_html.replace("\r\n", "\n")):
        lines = [line.rstrip() for line in block.strip("\n").split("\n")]
        if any(line.strip() for line in lines):
            paragraphs.append("<br>\n".join(lines).strip())
    return paragraphs


def _as_text(paragraph_html: str) -> str:
    text = re.sub(r"<br\s*/?>\n?", "\n", paragraph_html)
    return html_lib.unescape(strip_tags(text))


def _logo_data_uri(practice: Practice) -> str:
    """The practice's logo inlined, so the document needs no file or URL to show it."""
    settings = PracticeSettings.objects.filter(practice=practice).only("logo").first()
    if settings is None or not settings.logo:
        return ""
    content_type = mimetypes.guess_type(settings.logo.name)[0] or ""
    if not content_type.startswith("image/") or content_type == "image/svg+xml":
        return ""
    try:
        if settings.logo.size > MAX_LOGO_BYTES:
            return ""
        with settings.logo.open("rb") as logo:
            data = logo.read()
    except OSError:
        return ""  # a lost file must not stop a letter
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


@cache
def letter_css() -> str:
    """The letter's stylesheet: inline in the document (so it stands alone in a browser or
    an email), parsed once per process for PDFs (see ``pdf_from_html``)."""
    return render_to_string("communications/letter.css")


@cache
def letter_css_source() -> str:
    """The Content-Security-Policy source that allows the letter's inline <style> and no
    other: the editor previews a letter in an <iframe srcdoc>, which takes the policy of the
    page around it (docs/security.md, "The browser")."""
    digest = hashlib.sha256(letter_css().encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _document(facts: _Facts, variables: dict, subject: str, paragraphs: list[str]) -> str:
    practice = facts.practice
    office = facts.letter.office if facts.letter.office_id else facts.referral.referring_office
    recipient_lines = [variables["recipient"]["name"]]
    if office is not None:
        if office.name != recipient_lines[0]:
            recipient_lines.append(office.name)
        recipient_lines.append(office.address)
        recipient_lines.append(_one_line(office.city, f"{office.state} {office.zip_code}".strip()))
    surgeon = variables["surgeon"]
    return render_to_string(
        "communications/letter.html",
        {
            "practice": practice,
            "practice_address_lines": [ln for ln in practice.address.splitlines() if ln.strip()],
            "logo": _logo_data_uri(practice),
            "letter_date": variables["today"],
            "recipient_lines": [line for line in recipient_lines if line and line.strip()],
            "patient": variables["patient"],
            "case_type": variables["referral"]["case_type"],
            "subject": subject,
            "paragraphs": [mark_safe(p) for p in paragraphs],  # escaped by the sandbox
            "surgeon_name": surgeon["name"],
            "surgeon_credentials": surgeon["credentials"],
            "kind_label": LetterKind(facts.letter.kind).label,
            "css": mark_safe(letter_css()),
        },
    )


def _render(facts: _Facts, subject_source: str, body_source: str) -> RenderedLetter:
    variables = _variables(facts)
    subject = " ".join(render(subject_source, variables, html=False).split())[:250]
    paragraphs = _paragraphs(render(body_source, variables, html=True))
    return RenderedLetter(
        subject=subject,
        body_html="\n".join(f"<p>{p}</p>" for p in paragraphs),
        body_text="\n\n".join(_as_text(p) for p in paragraphs),
        html=_document(facts, variables, subject, paragraphs),
    )


def render_letter(letter: Letter) -> RenderedLetter:
    """The letter in the practice's current wording (or the default)."""
    facts = _gather(letter)
    subject, body = template_for(facts.practice, letter.kind)
    return _render(facts, subject, body)


def preview_letter(
    practice: Practice, kind: str, referral: Referral, *, interval_days: int = 0
) -> Letter:
    """An unsaved letter of ``kind`` about ``referral``, as a trigger would write it: on the
    case's latest event of the letter's milestone (or its latest event), to its doctor."""
    events = MilestoneEvent.objects.filter(referral=referral, voided_at__isnull=True)
    event = (
        events.filter(kind=MILESTONE_OF_KIND[LetterKind(kind)]).order_by("occurred_at", "id").last()
        or events.order_by("occurred_at", "id").last()
    )
    provider = referral.referring_provider
    office = referral.referring_office
    if provider is not None:
        key, name = f"provider:{provider.pk}", _doctor(provider)["name"]
    elif office is not None:
        key, name = f"office:{office.pk}", office.name
    else:
        key, name = "", ""
    due = event.occurred_at if event else timezone.now()
    if kind == LetterKind.POSTOP_UPDATE and event is not None:
        due = event.occurred_at + dt.timedelta(days=interval_days)
    return Letter(
        practice=practice,
        referral=referral,
        event=event,
        office=office,
        kind=kind,
        interval_days=interval_days,
        recipient_key=key,
        recipient_name=name,
        due_at=due,
    )


def preview(
    practice: Practice,
    kind: str,
    subject: str,
    body: str,
    referral: Referral,
    *,
    interval_days: int = 0,
) -> RenderedLetter:
    """The letter ``subject``/``body`` would give on a real case (the editor's preview).
    Raises sandbox.TemplateRefused for a template that does not check."""
    letter = preview_letter(practice, kind, referral, interval_days=interval_days)
    return _render(_gather(letter), subject, body)


# --- PDF ---------------------------------------------------------------------------------


def _url_fetcher():
    """WeasyPrint may load nothing but data: URIs (the inlined logo): a letter can never
    make the worker read a file or call a URL. (A fetcher keeps per-request state: one per
    document.)"""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False)


_pdf_state = threading.local()


def _pdf_setup():
    """What every PDF shares, made once per thread: the font configuration (finding and
    loading the fonts was a quarter of a naive call's time) and the parsed stylesheet. Per
    thread because WeasyPrint does not promise that its Pango font map may be shared
    between threads (a worker process has one thread; a threaded web server several)."""
    if not hasattr(_pdf_state, "setup"):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        font_config = FontConfiguration()
        _pdf_state.setup = (font_config, CSS(string=letter_css(), font_config=font_config))
    return _pdf_state.setup


def pdf_from_html(document_html: str) -> bytes:
    """The PDF of a letter document. Measured in bench/letter_pdf.py: the fonts and the
    stylesheet are set up once (the document's inline copy of the stylesheet is dropped for
    the parsed one); fonts stay subsetted and unhinted, WeasyPrint's defaults (whole fonts
    made files 20x bigger and were slower, not faster)."""
    from weasyprint import HTML

    font_config, stylesheet = _pdf_setup()
    css = letter_css()
    stylesheets = []
    if css in document_html:
        document_html = document_html.replace(css, "", 1)
        stylesheets.append(stylesheet)
    return HTML(string=document_html, url_fetcher=_url_fetcher()).write_pdf(
        font_config=font_config, stylesheets=stylesheets
    )


def render_letter_pdf(letter: Letter) -> bytes:
    return pdf_from_html(render_letter(letter).html)
