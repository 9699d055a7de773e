"""Who may do what: one table of role × action, the single source of access decisions.

Views name the action they need (``@practice_required(Action.X)``), templates and
fragments ask ``can(request, Action.X)``, the API's permission class reads the
``API_KEY`` column, and docs/security.md prints this table (``manage.py
permissions_table``; a test keeps the two equal). To change who may do something,
change ``GRANTS`` here and regenerate the doc's table: nothing else holds a role list.
"""

from django.db import models

from .models import Role


class Action(models.TextChoices):
    # Everyone in a practice
    HOME = "home", "Open the home page and the Settings index"
    INTAKE = "intake", "Enter referrals and patients (intake, typeahead, duplicate check)"
    ONLINE_INBOX = "online_inbox", "Review online referrals (inbox, accept, reject)"
    VIEW_PATIENTS = "view_patients", "View patients"
    VIEW_CASES = "view_cases", "View cases, the worklist and attachments"
    RECORD_SCHEDULING = (
        "record_scheduling",
        "Record scheduling steps (consult or surgery booked, no-show, cancelled)",
    )
    RECORD_CLINICAL = (
        "record_clinical",
        "Record clinical steps (consult completed, accepted or declined, surgery, post-op, closed)",
    )
    VIEW_REFERRERS = "view_referrers", "View referring offices, referrer health and outreach plan"
    VIEW_ALERTS = "view_alerts", "View the alerts inbox"
    VIEW_LETTERS = "view_letters", "View letters, the print queue and letter PDFs"
    SEND_LETTERS = "send_letters", "Resend, print or skip letters"
    STATUS_LINKS = "status_links", "Create and revoke GP status-page links"
    REPORTS = "reports", "Read reports and export them (CSV, PDF)"
    # Money is a column of its own: it cuts across pages, fragments, exports and the API.
    VIEW_MONEY = "view_money", "See money (production, revenue at risk, case value)"
    WORK_ALERTS = "work_alerts", "Work alerts (acknowledge, assign, snooze, resolve)"
    LOG_OUTREACH = "log_outreach", "Log outreach to a referring office"
    MANAGE_OFFICES = "manage_offices", "Create, edit, archive offices and doctors"
    MERGE_OFFICES = "merge_offices", "Find duplicate offices and merge them"
    IMPORT = "import", "Import referral history (CSV)"
    RECOMPUTE = "recompute", "Recompute referrer health now"
    SETTINGS = "settings", "Change practice settings (thresholds, digest, case value)"
    LETTER_TEMPLATES = "letter_templates", "Edit letter templates"
    API_KEYS = "api_keys", "Create and revoke API keys"
    MANAGE_TEAM = "manage_team", "Manage the team (invite, change roles, deactivate)"
    VIEW_AUDIT_LOG = "view_audit_log", "Read and export the audit log"
    EXPORT_PRACTICE = (
        "export_practice",
        "Export everything of the practice (every record, letter PDFs, attachments)",
    )


# The column of a practice API key: what an integration (PMS, BI tool) may do. Not a
# Role (a key is not a person and has no membership), but it reads the same table.
API_KEY = "api_key"
API_KEY_LABEL = "API key"

A = Action
_EVERYONE = frozenset(
    {
        A.HOME,
        A.INTAKE,
        A.ONLINE_INBOX,
        A.VIEW_PATIENTS,
        A.VIEW_CASES,
        A.RECORD_SCHEDULING,
        A.VIEW_REFERRERS,
        A.VIEW_ALERTS,
        A.VIEW_LETTERS,
        A.SEND_LETTERS,
        A.REPORTS,
    }
)
# Clinical staff record the clinical steps, see the money of their cases and own alerts.
_CLINICAL = frozenset({A.RECORD_CLINICAL, A.VIEW_MONEY, A.WORK_ALERTS, A.LOG_OUTREACH})
# Coordinators own the relationships with referring offices and the practice's data.
_COORDINATION = frozenset({A.MANAGE_OFFICES, A.MERGE_OFFICES, A.IMPORT})

GRANTS: dict[str, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.COORDINATOR: _EVERYONE | _CLINICAL | _COORDINATION | {A.STATUS_LINKS},
    Role.CLINICIAN: _EVERYONE | _CLINICAL,
    Role.FRONT_DESK: _EVERYONE | {A.STATUS_LINKS},
    # A key pushes referrals and milestones and pulls offices and scores (with revenue at
    # risk: the admin who made the key chose to share the practice's figures with that
    # system). It never reaches settings, people, letters or the audit log.
    API_KEY: frozenset(
        {
            A.INTAKE,
            A.VIEW_PATIENTS,
            A.VIEW_CASES,
            A.RECORD_SCHEDULING,
            A.RECORD_CLINICAL,
            A.VIEW_REFERRERS,
            A.MANAGE_OFFICES,
            A.VIEW_MONEY,
        }
    ),
}

# Column order of the printed table: most rights first.
PRINCIPALS: list[tuple[str, str]] = [
    (Role.ADMIN, Role.ADMIN.label),
    (Role.COORDINATOR, Role.COORDINATOR.label),
    (Role.CLINICIAN, Role.CLINICIAN.label),
    (Role.FRONT_DESK, Role.FRONT_DESK.label),
    (API_KEY, API_KEY_LABEL),
]


def allows(principal: str | None, action: Action) -> bool:
    """Whether a role (or ``API_KEY``) may do ``action``; no role may do nothing."""
    return action in GRANTS.get(principal or "", frozenset())


def can(request, action: Action) -> bool:
    """Whether the person behind ``request`` (its practice role) may do ``action``."""
    return allows(getattr(request, "role", None), action)


def roles_allowed(action: Action) -> frozenset[str]:
    """The practice roles (not the API key) that may do ``action``."""
    return frozenset(role for role in Role.values if allows(role, action))


def markdown_table() -> str:
    """The role × action table as Markdown, for docs/security.md."""
    header = ["Action", *(label for _, label in PRINCIPALS)]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + [":---:"] * len(PRINCIPALS)) + " |",
    ]
    for action in Action:
        marks = ["yes" if allows(principal, action) else "—" for principal, _ in PRINCIPALS]
        lines.append(f"| {action.label} (`{action.value}`) | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"
