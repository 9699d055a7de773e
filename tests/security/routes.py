"""Every route of the site, and how the route matrix requests it.

Adding a URL means adding one line here (the coverage test fails until you do):

* a staff page, fragment, export or POST: a ``Route`` in ``ROUTES`` under the URL name,
  saying how to fill its arguments from one practice's objects (``route_world.Objects``);
  the view must carry ``@practice_required(Action.X)``: what each role may do is read
  from that and ``practices.access.GRANTS``, never written here;
* an API endpoint: a ``Route`` too (the operations come from the OpenAPI schema and each
  view's ``required_actions``);
* a public route (no login, or a login of its own kind): an entry in ``PUBLIC`` with the
  reason it is public and where its own tests are.

The Django admin's model pages are generated from ``admin.site._registry`` with the
object of each model named in ``ADMIN_OBJECTS``.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.reports import REPORTS
from communications.models import LetterKind
from portability.services import download_token
from practices.models import ApiKey, Membership, Practice, User
from referrals.choices import MilestoneKind as K
from referrals.models import (
    ImportJob,
    ImportPreset,
    MilestoneEvent,
    OfficeEvent,
    OnlineReferral,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)

from .route_world import Objects

Build = Callable[[Objects], dict]


def _none(o: Objects) -> dict:
    return {}


@dataclass(frozen=True)
class Route:
    """How to request one URL pattern with one practice's objects."""

    kwargs: Build = _none  # the URL's arguments
    query: Build = _none  # its query string (ids in a query are object ids too)
    method: str = "GET"  # the method the matrix sends (a GET where the view has one)
    data: Build = _none  # the POST body (ids in a body are object ids too)
    ok: int = 200  # what an allowed GET answers
    htmx: bool = False  # send HX-Request (a fragment-only route)
    # For routes that take ids in a POST body and answer the same whether they matched:
    # a value of the other practice's objects that the request must leave unchanged.
    untouched: Callable[[Objects], object] | None = None
    api: bool = False


def _obj(attr: str, key: str = "pk") -> Build:
    return lambda o: {key: getattr(o, attr).pk}


def _fresh(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


def report_filters(o: Objects) -> dict:
    # Last month and this one: the world's cases are days old (the default is the last
    # full months only). The office filter is an object id.
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    return {"start": f"{last_month:%Y-%m}", "end": f"{this_month:%Y-%m}", "office": o.office.pk}


REPORT = next(iter(REPORTS))
TEMPLATE_KIND = LetterKind.CONSULT_SCHEDULED.value

# --- staff pages, fragments, exports and actions (URL name -> how to request it) ---------
ROUTES: dict[str, Route] = {
    # practices
    "home": Route(),
    "coming_soon": Route(kwargs=lambda o: {"section": "intake"}),
    "settings_home": Route(),
    "api_keys": Route(),
    "api_key_revoke": Route(kwargs=_obj("api_key", "key_id"), method="POST"),
    "referrer_health_settings": Route(),
    "security_settings": Route(),
    "referral_settings": Route(),
    "referrer_health_recompute": Route(method="POST"),
    # The audit log's filters are words and the practice's own members, not object ids.
    "audit_log": Route(),
    "audit_log_csv": Route(),
    "team": Route(),
    "team_invite": Route(method="POST"),
    "team_sessions": Route(method="POST"),
    "team_invitation_resend": Route(kwargs=_obj("invitation", "invitation_id"), method="POST"),
    "team_invitation_revoke": Route(kwargs=_obj("invitation", "invitation_id"), method="POST"),
    "team_member_role": Route(kwargs=_obj("membership", "member_id"), method="POST"),
    "team_member_deactivate": Route(kwargs=_obj("membership", "member_id"), method="POST"),
    "team_member_reactivate": Route(kwargs=_obj("membership", "member_id"), method="POST"),
    "team_member_unlock": Route(kwargs=_obj("membership", "member_id"), method="POST"),
    # referrals: intake, patients, cases
    "intake": Route(),
    "intake_patient_search": Route(query=lambda o: {"q": "Jordan"}),
    "intake_office_search": Route(query=lambda o: {"q": "Dental"}),
    "intake_duplicate_check": Route(
        query=lambda o: {"first_name": "Jordan", "last_name": "X", "date_of_birth": "1990-01-01"}
    ),
    "patient_detail": Route(kwargs=_obj("patient")),
    "patient_not_duplicate": Route(
        kwargs=lambda o: {"pk": o.patient.pk, "other_pk": o.twin.pk}, method="POST"
    ),
    "worklist": Route(),
    "referral_detail": Route(kwargs=_obj("referral")),
    "referral_step": Route(kwargs=lambda o: {"pk": o.booked.pk, "kind": K.CONSULT_SCHEDULED}),
    "referral_undo": Route(kwargs=_obj("booked")),
    "attachment_file": Route(kwargs=_obj("attachment")),
    # referring offices
    "office_list": Route(),
    "office_create": Route(),
    "office_duplicates": Route(),
    "office_merge": Route(query=lambda o: {"survivor": o.office.pk, "absorbed": o.other_office.pk}),
    "office_detail": Route(kwargs=_obj("office")),
    "office_edit": Route(kwargs=_obj("office")),
    "office_archive": Route(kwargs=_obj("other_office"), method="POST"),
    "office_restore": Route(kwargs=_obj("other_office"), method="POST"),
    "provider_create": Route(kwargs=_obj("office")),
    "provider_edit": Route(kwargs=lambda o: {"pk": o.office.pk, "provider_pk": o.provider.pk}),
    # online referrals
    "online_inbox": Route(),
    "online_inbox_item": Route(kwargs=_obj("online")),
    "online_inbox_accept": Route(kwargs=_obj("online"), method="POST"),
    "online_inbox_reject": Route(kwargs=_obj("online"), method="POST"),
    # imports
    "import_list": Route(),
    "import_upload": Route(),
    "import_detail": Route(kwargs=_obj("import_job")),
    # The fragment the detail page polls (a plain GET redirects to the detail page).
    "import_progress": Route(kwargs=_obj("import_job"), htmx=True),
    "import_start": Route(kwargs=_obj("import_job"), method="POST"),
    "import_errors": Route(kwargs=_obj("import_job")),
    # the import wizard (a job at its mapping step)
    "import_wizard_file": Route(kwargs=_obj("wizard_job")),
    "import_wizard_columns": Route(kwargs=_obj("wizard_job")),
    "import_wizard_values": Route(kwargs=_obj("wizard_job")),
    "import_wizard_dates": Route(kwargs=_obj("wizard_job")),
    "import_wizard_offices": Route(kwargs=_obj("wizard_job")),
    "import_wizard_preview": Route(kwargs=_obj("wizard_job")),
    "import_wizard_mapping": Route(kwargs=_obj("wizard_job")),
    "import_wizard_use_preset": Route(kwargs=_obj("wizard_job"), method="POST"),
    "import_wizard_save_preset": Route(
        kwargs=_obj("wizard_job"), method="POST", data=lambda o: {"name": "matrix preset"}
    ),
    "import_wizard_import": Route(
        kwargs=_obj("wizard_job"), method="POST", data=lambda o: {"mode": "valid_only"}
    ),
    "import_preset_delete": Route(kwargs=_obj("preset"), method="POST"),
    # referrer health, outreach, alerts
    "referrer_board": Route(),
    # GET is the htmx progress card; with nothing pending it answers 204 + HX-Redirect.
    "referrer_recompute": Route(htmx=True, ok=204),
    "referrer_detail": Route(kwargs=_obj("office", "office_id")),
    "referrer_alert_action": Route(
        kwargs=lambda o: {
            "office_id": o.office.pk,
            "alert_id": o.alert.pk,
            "action": "acknowledge",
        },
        method="POST",
    ),
    "outreach_list": Route(),
    "referrer_log_outreach": Route(kwargs=_obj("office", "office_id"), method="POST"),
    "alert_inbox": Route(),
    "alert_bulk_acknowledge": Route(
        method="POST",
        data=lambda o: {"alert": [o.alert.pk]},
        untouched=lambda o: _fresh(o.alert).state,
    ),
    "alert_action": Route(
        kwargs=lambda o: {"alert_id": o.alert.pk, "action": "acknowledge"}, method="POST"
    ),
    # reports (the office filter is an object id)
    "reports": Route(query=report_filters),
    "report_csv": Route(kwargs=lambda o: {"report": REPORT}, query=report_filters),
    "report_pdf": Route(kwargs=lambda o: {"report": REPORT}, query=report_filters),
    # letters
    "print_queue": Route(),
    "print_queue_mark_many": Route(
        method="POST",
        data=lambda o: {"letter": [o.letter.pk]},
        untouched=lambda o: _fresh(o.letter).status,
    ),
    "print_queue_pdf": Route(kwargs=_obj("letter")),
    "print_queue_mark": Route(kwargs=_obj("letter"), method="POST"),
    "print_queue_skip": Route(kwargs=_obj("letter")),
    "letter_templates": Route(),
    "letter_template_edit": Route(kwargs=lambda o: {"kind": TEMPLATE_KIND}),
    "letter_template_preview": Route(kwargs=lambda o: {"kind": TEMPLATE_KIND}, method="POST"),
    "letter_template_preview_pdf": Route(kwargs=lambda o: {"kind": TEMPLATE_KIND}, method="POST"),
    "letter_template_reset": Route(kwargs=lambda o: {"kind": TEMPLATE_KIND}, method="POST"),
    "letter_list": Route(),
    "letters_overdue": Route(),
    "letter_resend": Route(kwargs=_obj("letter")),
    "letter_download": Route(kwargs=_obj("letter")),
    "status_link_create": Route(kwargs=_obj("office", "office_pk"), method="POST"),
    "status_link_revoke": Route(kwargs=_obj("status_link"), method="POST"),
    # a practice's whole export (portability/)
    "practice_export": Route(),
    # The card the page polls; for a finished export it answers 204 + HX-Redirect.
    "practice_export_progress": Route(kwargs=_obj("export_job"), htmx=True, ok=204),
    "practice_export_download": Route(
        kwargs=lambda o: {"pk": o.export_job.pk, "token": download_token(o.export_job)}
    ),
    # --- the API (key only; the operations and their actions come from the schema) -------
    "api-office-list": Route(api=True),
    "api-office-detail": Route(kwargs=_obj("office"), api=True),
    "api-provider-list": Route(api=True),
    "api-provider-detail": Route(kwargs=_obj("provider"), api=True),
    "api-patient-list": Route(api=True),
    "api-patient-detail": Route(kwargs=_obj("patient"), api=True),
    "api-referral-list": Route(api=True),
    "api-referral-detail": Route(kwargs=_obj("referral"), api=True),
    "api-referral-events": Route(kwargs=_obj("referral"), api=True),
    "api-referrer-scores": Route(api=True),
}

# --- public routes: no practice login, or a check of their own -----------------------
PUBLIC: dict[str, str] = {
    "healthz": "load-balancer health check; says ok or error, no data (tests/test_healthz.py)",
    "favicon": "redirects to the site's icon in static/; no data (tests/test_favicon.py)",
    "login": "the login form",
    "logout": "ends the session",
    "pick_practice": "a logged-in user picks among their own memberships; another "
    "practice's id is a 404 (tests/test_tenancy_pages.py)",
    "password_change": "a logged-in user changes their own password; no practice data",
    "accept_invitation": "an invited person's one-time link: its secret, expiring token is "
    "the credential; shows only its own invitation (tests/test_invitations.py)",
    "idle_keep_alive": "the idle warning's 'Stay logged in' for the person's own session; "
    "no practice data (tests/test_idle_logout.py)",
    "online_referral_form": "the public referral form GP offices use, by practice slug; "
    "shows the practice's name only (tests/test_online_referral.py)",
    "online_referral_thanks": "the form's thank-you page; shows only what this browser's "
    "session just sent (tests/test_online_referral.py)",
    "status_page": "the GP status page: its secret, expiring, revocable token is the "
    "credential (tests/communications/test_status_page.py)",
    "status_letter_pdf": "a letter PDF on the GP status page, only for the token's own "
    "office (tests/communications/test_status_page.py)",
    "api-schema": "the OpenAPI description: describes the API, holds no practice data",
    "api-docs": "the API docs page (Swagger UI over the schema)",
    "api/v1/^.*/$": "unknown API paths answer a JSON 404",
    # The admin's own pages outside the model admins.
    "admin:login": "the admin's login form",
    "admin:logout": "ends the session",
    "admin:password_change": "a staff member changes their own password",
    "admin:password_change_done": "the confirmation of the above",
    "admin:jsi18n": "the admin's JavaScript translations",
    "admin/(?P<url>.*)$": "unknown admin paths: a redirect to add a slash, or a 404",
}

# Whole families of public routes by path prefix, each with its reason (e.g. a login
# library's own pages about the person's own account, which hold no practice data).
# Prefer naming routes one by one in PUBLIC: a prefix lets a future route in without review.
PUBLIC_PREFIXES: dict[str, str] = {
    "accounts/": "django-allauth's pages about the person's own account (login, password "
    "reset, reauthentication, two-factor, security keys): no practice data "
    "(tests/security/test_accounts.py, tests/browser/test_two_factor.py)",
}

# --- the Django admin (support staff, is_staff): each registered model's object ------
ADMIN_OBJECTS: dict[type, str | None] = {
    Practice: "practice",
    Membership: "membership",
    ApiKey: "api_key",
    User: "support",
    ReferringOffice: "office",
    ReferringProvider: "provider",
    Patient: "patient",
    Referral: "referral",
    MilestoneEvent: "event",
    OfficeEvent: "office_event",
    OnlineReferral: "online",
    ImportJob: "import_job",
    ImportPreset: "preset",
    # Groups are platform-wide permission sets, not tenant data; practice staff have no
    # permission on them (403), so there is no other practice's group to reach.
    Group: None,
    # Platform-wide account tables (lockout records, email addresses, second factors):
    # for platform operators; practice support staff have no permission on them (403).
    EmailAddress: None,
    Authenticator: None,
    AccessAttempt: None,
    AccessLog: None,
    AccessFailureLog: None,
}
