"""Settings → Referrals: what the online form promises the GP, and when the worklist calls a
case stuck. Every bound is checked here with a message that names the field."""

from django import forms

from .models import PracticeSettings

PROMISE_FIELDS = {
    "online_contact_days_urgent": "Urgent",
    "online_contact_days_soon": "Soon",
    "online_contact_days_routine": "Routine",
}


def _days(label: str, low: int, high: int, unit: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": low, "max": high}),
        error_messages={
            "required": f"{label}: give a number of {unit}.",
            "invalid": f"{label}: give a whole number of {unit}.",
            "min_value": f"{label}: at least {low} {unit.removesuffix('s') if low == 1 else unit}.",
            "max_value": f"{label}: at most {high} {unit}.",
        },
    )


class ReferralSettingsForm(forms.ModelForm):
    online_contact_days_urgent = _days("Urgent", 1, 30, "business days")
    online_contact_days_soon = _days("Soon", 1, 30, "business days")
    online_contact_days_routine = _days("Routine", 1, 30, "business days")
    worklist_consult_not_booked_days = _days(
        "Consult not scheduled after",
        1,
        90,
        "days",
        "A received referral with no consult booked after this many days is flagged.",
    )
    worklist_no_decision_days = _days(
        "No decision after the consult for",
        1,
        180,
        "days",
        "A consult with no treatment decision after this many days is flagged.",
    )

    class Meta:
        model = PracticeSettings
        fields = [*PROMISE_FIELDS, "worklist_consult_not_booked_days", "worklist_no_decision_days"]

    def clean(self):
        data = super().clean()
        urgent, soon, routine = (data.get(name) for name in PROMISE_FIELDS)
        # A more urgent referral is never promised a later call than a less urgent one.
        if urgent is not None and soon is not None and urgent > soon:
            self.add_error(
                "online_contact_days_urgent",
                f"Urgent: promise no more than for a soon referral ({soon} business days).",
            )
        if soon is not None and routine is not None and soon > routine:
            self.add_error(
                "online_contact_days_soon",
                f"Soon: promise no more than for a routine referral ({routine} business days).",
            )
        return data

    def save(self, commit: bool = True) -> PracticeSettings:
        settings = super().save(commit=False)
        # Only these columns: the other settings pages save theirs without a lost update.
        settings.save(update_fields=self.Meta.fields)
        return settings
