"""Forms of the referrer-health pages: log an outreach, snooze, resolve or assign an alert."""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from practices.access import Action, roles_allowed
from practices.models import Practice

from .choices import OutreachKind
from .models import OutreachLog


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class OutreachForm(forms.ModelForm):
    class Meta:
        model = OutreachLog
        fields = ["kind", "occurred_on", "outcome", "follow_up_on", "notes"]
        labels = {
            "kind": "Contact",
            "occurred_on": "Date",
            "outcome": "Outcome",
            "follow_up_on": "Follow up on",
            "notes": "Notes",
        }
        widgets = {
            "occurred_on": DateInput(),
            "follow_up_on": DateInput(),
            "outcome": forms.TextInput(attrs={"placeholder": "e.g. Spoke with Dr. Lee, will send"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = OutreachKind.choices
        self.fields["occurred_on"].initial = timezone.localdate
        self.fields["notes"].help_text = "No patient details: this log is about the office."


class SnoozeForm(forms.Form):
    until = forms.DateField(label="Snooze until", widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["until"].initial = lambda: timezone.localdate() + dt.timedelta(days=14)


class ResolveForm(forms.Form):
    note = forms.CharField(
        label="How was it resolved?",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Visited; referrals back to normal"}),
    )


def working_members(practice: Practice):
    """The practice's people who may own an alert, by name."""
    working_roles = roles_allowed(Action.WORK_ALERTS)
    return (
        get_user_model()
        .objects.filter(memberships__practice=practice, memberships__role__in=working_roles)
        .order_by("first_name", "last_name", "email")
    )


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(label="Owner", queryset=None, empty_label="Choose a person")

    def __init__(self, *args, practice: Practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = working_members(practice)
        self.fields["owner"].label_from_instance = display_name


def display_name(user) -> str:
    name = f"{user.first_name} {user.last_name}".strip()
    return name or user.email
