"""The tenant (Practice), the people (User) and who may do what where (Membership)."""

from decimal import Decimal
from zoneinfo import available_timezones

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MinValueValidator
from django.db import models
from django_scopes import ScopedManager

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
    # (b) The statistical rule: a Poisson CUSUM against the office's own baseline
    statistical_rule_enabled = models.BooleanField(default=True)
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
    """The practice's settings row, created with defaults on first use."""
    try:
        return practice.settings
    except PracticeSettings.DoesNotExist:
        obj, _ = PracticeSettings.objects.with_scopes_disabled().get_or_create(practice=practice)
        return obj
