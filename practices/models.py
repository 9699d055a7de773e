"""The tenant (Practice), the people (User) and who may do what where (Membership)."""

from decimal import Decimal
from zoneinfo import available_timezones

import pgtrigger
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager, scope

TIME_ZONE_CHOICES = sorted((tz, tz) for tz in available_timezones() if "/" in tz)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in with an email address; belongs to practices by Membership."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.get_full_name() or self.email


class Practice(models.Model):
    """An OMS practice: the tenant. Every tenant-owned row points here."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(
        max_length=64, choices=TIME_ZONE_CHOICES, default="America/New_York"
    )
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    default_case_value = models.DecimalField(
        "default case value ($)",
        max_digits=10,
        decimal_places=2,
        default=Decimal("1800.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Average production per case, used for revenue at risk.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Practice administrator"
    COORDINATOR = "coordinator", "Coordinator"
    FRONT_DESK = "front_desk", "Front desk"
    CLINICIAN = "clinician", "Clinician"


class Membership(models.Model):
    """A user's role in one practice. A user may belong to several practices."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_surgeon = models.BooleanField(
        default=False, help_text="Signs letters and appears as the treating surgeon."
    )
    credentials = models.CharField(
        max_length=60, blank=True, help_text="After the name on a letter, e.g. 'DDS, MD'."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A deactivated member keeps their history (audit log, letters they signed) but can no
    # longer work in the practice; their sessions are ended when they are deactivated.
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "user"], name="membership_unique_per_practice"
            )
        ]
        ordering = ["user__email"]

    def __str__(self):
        return f"{self.user} @ {self.practice} ({self.get_role_display()})"


class ApiKey(models.Model):
    """A practice's key for the REST API. Only a SHA-256 of the key is stored; the key
    itself is shown once, when it is created."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'Dentrix bridge'.")
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise it.")
    hashed_key = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "created_at"], name="apikey_practice_created")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TwoFactorPolicy(models.TextChoices):
    ADMINS = "admins", "Practice administrators"
    ALL_STAFF = "all_staff", "All staff"


class PracticeSettings(models.Model):
    """Per-practice knobs: referrer-health thresholds, decline rules, alerting.

    One row per practice, created on first use (see ``settings_for``). Defaults follow
    shared/DESIGN.md and the seed article.
    """

    practice = models.OneToOneField(
        Practice, on_delete=models.CASCADE, primary_key=True, related_name="settings"
    )
    # Statuses
    new_days = models.PositiveSmallIntegerField(
        default=90, help_text="An office is new while its first referral is this recent."
    )
    inactive_days = models.PositiveSmallIntegerField(
        default=90, help_text="No referral for this many days makes an office inactive."
    )
    lost_months = models.PositiveSmallIntegerField(
        default=12, help_text="No referral for this many months makes an office lost."
    )
    # (a) The article's threshold rule
    threshold_rule_enabled = models.BooleanField(default=True)
    threshold_min_baseline = models.DecimalField(
        "baseline at least (per month)", max_digits=5, decimal_places=1, default=Decimal("8")
    )
    threshold_max_recent = models.DecimalField(
        "then at most (per month)", max_digits=5, decimal_places=1, default=Decimal("3")
    )
    threshold_months = models.PositiveSmallIntegerField(
        "for consecutive full months", default=2, validators=[MinValueValidator(1)]
    )
    # (b) The statistical rule: a change-point likelihood-ratio scan (GLR) or the older
    # Poisson CUSUM, against the office's own baseline (docs/decline-detection.md)
    statistical_rule_enabled = models.BooleanField(default=True)
    statistical_method = models.CharField(
        "statistical test",
        max_length=8,
        choices=[
            ("glr", "Change-point scan (GLR)"),
            ("cusum", "CUSUM tuned to one drop size"),
        ],
        default="glr",
    )
    glr_threshold = models.DecimalField(
        "evidence threshold",
        max_digits=4,
        decimal_places=2,
        default=Decimal("3.00"),
        help_text="Higher: fewer false alarms, later detection. See docs/decline-detection.md.",
    )
    silence_rule_enabled = models.BooleanField(
        "inactive sooner when a silence is improbable",
        default=True,
        help_text="An office is also inactive when it has been silent longer than a steady "
        "office of its rate is 1 time in 500.",
    )
    cusum_drop_ratio = models.DecimalField(
        "drop to detect (share of baseline)",
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.50"),
        help_text="The rate the test is tuned to catch, as a share of the baseline.",
    )
    cusum_threshold = models.DecimalField(
        "alarm threshold h",
        max_digits=4,
        decimal_places=2,
        default=Decimal("3.00"),
        help_text="Higher: fewer false alarms, later detection. See docs/decline-detection.md.",
    )
    statistical_min_baseline = models.DecimalField(
        "minimum baseline (per month)",
        max_digits=4,
        decimal_places=1,
        default=Decimal("1.5"),
        help_text="Offices below this rate are too small for the test to say anything.",
    )
    # Alerts
    alert_recipients = models.TextField(
        blank=True, help_text="Email addresses for the nightly alert digest, one per line."
    )
    nightly_hour = models.PositiveSmallIntegerField(
        default=2, help_text="Local hour at which the nightly recompute runs."
    )

    # Letters to referring GPs
    postop_update_days = models.CharField(
        "post-op update intervals (days)",
        max_length=60,
        default="7,42",
        help_text="Days after surgery at which the GP gets a post-op update, comma separated.",
    )
    loop_closure_days = models.PositiveSmallIntegerField(
        default=3, help_text="A letter sent within this many days of its milestone is on time."
    )
    no_phi_in_email = models.BooleanField(
        "no PHI in email",
        default=False,
        help_text="Emails carry only a link to the secure status page, not the letter PDF.",
    )
    status_page_phi = models.CharField(
        "patient identity on the GP status page",
        max_length=20,
        choices=[
            ("initials_dob", "Initials and date of birth"),
            ("initials", "Initials only"),
            ("full_name", "Full name and date of birth"),
        ],
        default="initials_dob",
    )
    status_link_days = models.PositiveSmallIntegerField(
        default=180, help_text="How long a GP status-page link stays valid."
    )
    letters_reply_to = models.EmailField(
        blank=True, help_text="Where a GP's reply to a letter goes (default: none)."
    )
    logo = models.ImageField(upload_to="logos/", blank=True)

    # Accounts and sessions
    two_factor_required_for = models.CharField(
        "require two-factor for",
        max_length=20,
        choices=TwoFactorPolicy.choices,
        default=TwoFactorPolicy.ADMINS,
        help_text="Who must enrol a second factor before using the practice.",
    )
    idle_logout_minutes = models.PositiveSmallIntegerField(
        "log out after idle minutes",
        default=15,
        validators=[MinValueValidator(2), MaxValueValidator(480)],
        help_text="A session with no activity for this long is ended (warned a minute before).",
    )

    # Referrals: the online form's promise to the GP and the worklist's stuck cases
    # (Settings → Referrals). The defaults are what the app promised and flagged before
    # these were settings.
    online_contact_days_urgent = models.PositiveSmallIntegerField(
        "urgent referrals: contact the patient within (business days)",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    online_contact_days_soon = models.PositiveSmallIntegerField(
        "soon referrals: contact the patient within (business days)",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    online_contact_days_routine = models.PositiveSmallIntegerField(
        "routine referrals: contact the patient within (business days)",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
    )
    worklist_consult_not_booked_days = models.PositiveSmallIntegerField(
        "consult not scheduled after (days)",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    worklist_no_decision_days = models.PositiveSmallIntegerField(
        "no decision after the consult (days)",
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(180)],
    )

    # Claimed with a conditional UPDATE by the hourly scheduler, so each practice's nightly
    # recompute is queued once per local day however many beats or schedulers run.
    last_nightly_on = models.DateField(null=True, blank=True, editable=False)

    objects = ScopedManager(practice="practice")

    def __str__(self):
        return f"Settings of {self.practice}"

    @property
    def postop_intervals(self) -> list[int]:
        days = []
        for part in self.postop_update_days.split(","):
            part = part.strip()
            if part.isdigit() and int(part) > 0:
                days.append(int(part))
        return sorted(set(days))

    @property
    def recipient_list(self) -> list[str]:
        return [line.strip() for line in self.alert_recipients.splitlines() if line.strip()]


def settings_for(practice: Practice) -> PracticeSettings:
    """The practice's settings row, created with defaults on first use.

    Read in the practice's own scope whatever scope the caller is in (the hourly schedulers
    loop over practices outside any scope): with row-level security the row is visible only
    there, and no other practice's row can be reached through it.
    """
    with scope(practice=practice):
        try:
            return practice.settings
        except PracticeSettings.DoesNotExist:
            obj, _ = PracticeSettings.objects.get_or_create(practice=practice)
            return obj


class Invitation(models.Model):
    """An admin's invitation of a person, by email, to join the practice with a role.

    Only a SHA-256 of the one-time token is stored; the link in the email carries the
    token itself. Accepting sets the password (and two-factor when the practice requires
    it) and creates the Membership.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    is_surgeon = models.BooleanField(default=False)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "created_at"], name="invitation_practice")]

    def __str__(self):
        return f"Invitation of {self.email} to {self.practice}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


class AuditAction(models.TextChoices):
    # Patient data
    VIEWED = "viewed", "Viewed"
    LISTED = "listed", "Listed"
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    EXPORTED = "exported", "Exported"
    DOWNLOADED = "downloaded", "Downloaded"
    PRINTED = "printed", "Printed"
    DELETED = "deleted", "Deleted"
    IMPORTED = "imported", "Imported"
    # Accounts
    LOGIN = "login", "Logged in"
    LOGOUT = "logout", "Logged out"
    IDLE_LOGOUT = "idle_logout", "Logged out when idle"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOCKED_OUT = "locked_out", "Locked out"
    UNLOCKED = "unlocked", "Unlocked"
    PASSWORD_CHANGED = "password_changed", "Changed password"
    PASSWORD_RESET = "password_reset", "Reset password"
    MFA_ENABLED = "mfa_enabled", "Turned two-factor on"
    MFA_DISABLED = "mfa_disabled", "Turned two-factor off"
    MFA_FAILED = "mfa_failed", "Failed two-factor code"
    RECOVERY_CODES = "recovery_codes", "Recovery codes generated or used"
    INVITED = "invited", "Invited a person"
    INVITATION_ACCEPTED = "invitation_accepted", "Accepted an invitation"
    INVITATION_REVOKED = "invitation_revoked", "Withdrew an invitation"
    ROLE_CHANGED = "role_changed", "Changed a role"
    DEACTIVATED = "deactivated", "Deactivated a member"
    REACTIVATED = "reactivated", "Reactivated a member"


class ActorKind(models.TextChoices):
    USER = "user", "Person"
    API_KEY = "api_key", "API key"
    STATUS_TOKEN = "status_token", "GP status link"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Unknown person"


class AuditEntry(models.Model):
    """One look at, or change of, patient data, or one account event. Append-only.

    Written with one INSERT by ``practices.audit.record``; on PostgreSQL a trigger refuses
    UPDATE and DELETE. Carries ids and labels, never patient names, dates of birth or notes.
    ``practice`` is empty only for account events that belong to no practice (a failed login
    for an unknown address).
    """

    practice = models.ForeignKey(
        Practice,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    # No database constraint: users and patients are never deleted through this table, and
    # an append-only log must not make their deletion cascade into it.
    actor_user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["practice", "at"], name="audit_practice_at"),
            models.Index(fields=["practice", "patient_id", "at"], name="audit_practice_patient"),
            models.Index(fields=["practice", "actor_user", "at"], name="audit_practice_actor"),
            # The audit page's action filter ("every export this year") and actor kinds.
            models.Index(fields=["practice", "action", "at"], name="audit_practice_action"),
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}"


class UserSession(models.Model):
    """Which sessions a user has open: written at login, so deactivating a member can end
    their sessions at once without decoding every session in the store.

    Holds only the session key (any session engine can delete by key); rows of sessions
    that ended are removed at logout, and on the user's next login once they are older
    than the longest a session can live (SESSION_COOKIE_AGE).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="usersession_user")]

    def __str__(self):
        return f"Session of user {self.user_id}"
