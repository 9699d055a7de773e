"""Settings forms of a practice. Every bound is checked here with a message that names the
field, so a setting can never switch a rule off by accident (a ratio of 1, a lost status
that comes before inactive)."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import Practice, PracticeSettings

DAYS_PER_MONTH = Decimal("30.44")


def _number(**attrs) -> forms.NumberInput:
    return forms.NumberInput(attrs={"inputmode": "decimal", **attrs})


class ReferrerHealthSettingsForm(forms.ModelForm):
    """Statuses, both decline rules, the alert digest and the practice's case value."""

    new_days = forms.IntegerField(
        label="New for (days)",
        min_value=7,
        max_value=730,
        help_text="An office is new while its first referral ever is at most this many days old.",
    )
    inactive_days = forms.IntegerField(
        label="Inactive after (days)",
        min_value=14,
        max_value=730,
        help_text="No referral for this many days makes an office inactive.",
    )
    lost_months = forms.IntegerField(
        label="Lost after (months)",
        min_value=2,
        max_value=60,
        help_text="No referral for this many months makes an office lost.",
    )
    threshold_min_baseline = forms.DecimalField(
        label="A: baseline at least (a month)",
        min_value=Decimal("0.1"),
        max_value=Decimal("999.9"),
        decimal_places=1,
        widget=_number(step="0.1"),
        help_text="What the office averaged over the 12 months before the drop.",
    )
    threshold_max_recent = forms.DecimalField(
        label="B: then at most (a month)",
        min_value=Decimal("0"),
        max_value=Decimal("999.9"),
        decimal_places=1,
        widget=_number(step="0.1"),
    )
    threshold_months = forms.IntegerField(
        label="N: for consecutive full months",
        min_value=1,
        max_value=12,
    )
    cusum_drop_ratio = forms.DecimalField(
        label="Drop to detect (share of baseline)",
        min_value=Decimal("0.05"),
        max_value=Decimal("0.95"),
        decimal_places=2,
        widget=_number(step="0.05"),
        help_text="The fall the test is tuned for: 0.50 looks for an office halving its "
        "referrals (deeper drops are caught sooner, shallower ones later).",
    )
    cusum_threshold = forms.DecimalField(
        label="Alarm threshold h",
        min_value=Decimal("0.5"),
        max_value=Decimal("20"),
        decimal_places=2,
        widget=_number(step="0.1"),
        help_text="h is how much evidence of a drop the test adds up before it raises an "
        "alert: higher means fewer false alarms but later warnings (at 3.0, about one false "
        "alarm per office every four years).",
    )
    glr_threshold = forms.DecimalField(
        label="Evidence threshold (change-point scan)",
        min_value=Decimal("0.5"),
        max_value=Decimal("20"),
        decimal_places=2,
        widget=_number(step="0.1"),
        help_text="How much evidence of a drop (a log likelihood ratio) the scan needs before "
        "it flags an office: higher means fewer false alarms but later warnings (at 3.0, "
        "about 4 steady offices in 100 are flagged at any time, inactive ones included).",
    )
    statistical_min_baseline = forms.DecimalField(
        label="Minimum baseline (a month)",
        min_value=Decimal("0"),
        max_value=Decimal("99.9"),
        decimal_places=1,
        widget=_number(step="0.1"),
        help_text="Below this rate an office is too small for any test to tell a drop from "
        "chance, so it is not tested.",
    )
    alert_recipients = forms.CharField(
        label="Digest recipients",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "manager@yourpractice.com"}),
        help_text="One email address per line. Left empty, the practice administrators "
        "get the digest.",
    )
    nightly_hour = forms.TypedChoiceField(
        label="Nightly run at",
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        coerce=int,
        error_messages={"invalid_choice": "Choose an hour from 00:00 to 23:00."},
    )
    default_case_value = forms.DecimalField(
        label="Default case value ($)",
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        widget=_number(step="1"),
        help_text="Average production of a case. Revenue at risk = referrals lost a month "
        "× this value × months of the drop.",
    )

    class Meta:
        model = PracticeSettings
        fields = [
            "new_days",
            "inactive_days",
            "lost_months",
            "threshold_rule_enabled",
            "threshold_min_baseline",
            "threshold_max_recent",
            "threshold_months",
            "statistical_rule_enabled",
            "statistical_method",
            "glr_threshold",
            "cusum_drop_ratio",
            "cusum_threshold",
            "statistical_min_baseline",
            "silence_rule_enabled",
            "alert_recipients",
            "nightly_hour",
        ]
        labels = {
            "threshold_rule_enabled": "Use the threshold rule",
            "statistical_rule_enabled": "Use the statistical rule",
            "silence_rule_enabled": "Inactive sooner when a silence is improbable",
        }

    def __init__(self, *args, practice: Practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.practice = practice
        self.fields["default_case_value"].initial = practice.default_case_value
        zone = practice.time_zone
        self.fields["nightly_hour"].help_text = f"Local time ({zone}) of the nightly run."

    def clean_alert_recipients(self) -> str:
        seen: dict[str, str] = {}
        bad = []
        for number, line in enumerate(self.cleaned_data["alert_recipients"].splitlines(), 1):
            address = line.strip()
            if not address:
                continue
            try:
                validate_email(address)
            except ValidationError:
                bad.append(f"“{address}” (line {number})")
                continue
            seen.setdefault(address.lower(), address)
        if bad:
            raise ValidationError(
                f"Not an email address: {', '.join(bad)}. Put one address on each line."
            )
        return "\n".join(seen.values())

    def clean(self):
        data = super().clean()
        inactive, lost = data.get("inactive_days"), data.get("lost_months")
        if inactive is not None and lost is not None and lost * DAYS_PER_MONTH <= inactive:
            self.add_error(
                "lost_months",
                f"An office goes inactive before it is lost: make this longer than "
                f"{inactive} days (at least {int(inactive / DAYS_PER_MONTH) + 1} months).",
            )
        top, floor = data.get("threshold_min_baseline"), data.get("threshold_max_recent")
        if top is not None and floor is not None and floor >= top:
            self.add_error("threshold_max_recent", f"B must be below the baseline A ({top}).")
        return data

    @transaction.atomic
    def save(self, commit: bool = True) -> PracticeSettings:
        settings = super().save(commit=False)
        settings.save(update_fields=self.Meta.fields)
        Practice.objects.filter(pk=self.practice.pk).update(
            default_case_value=self.cleaned_data["default_case_value"]
        )
        self.practice.default_case_value = self.cleaned_data["default_case_value"]
        return settings


class AccountSecuritySettingsForm(forms.ModelForm):
    """Settings → Sign-in security: who must log in with a second factor."""

    class Meta:
        model = PracticeSettings
        fields = ["two_factor_required_for"]
        labels = {"two_factor_required_for": "Require two-factor for"}
        widgets = {"two_factor_required_for": forms.RadioSelect}
        help_texts = {
            "two_factor_required_for": "Everyone it applies to is asked to set up an "
            "authenticator app at their next page, before anything else."
        }

    def save(self, commit: bool = True) -> PracticeSettings:
        settings = super().save(commit=False)
        settings.save(update_fields=self.Meta.fields)
        return settings
