"""Forms of the case timeline: one small form per milestone step, and the undo form.

Field names match the keyword arguments of ``services.record_milestone``, so a valid
form's ``cleaned_data`` is passed to the service as it is; the service still checks
what only it can know (the state machine, the received date) and its ValidationError
is put back on the form by :func:`add_service_errors`.
"""

import datetime as dt
from typing import ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..choices import MilestoneKind as K

# A browser's clock may run a little ahead of the server's.
FUTURE_TOLERANCE = dt.timedelta(minutes=10)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _text(label: str, *, required: bool = False, rows: int = 3, help_text: str = ""):
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


def _appointment(label: str):
    return forms.DateTimeField(
        label=label,
        widget=DateTimeLocalInput(),
        error_messages={"required": "Give the date and time of the appointment."},
    )


class StepForm(forms.Form):
    """What every step has: when it happened (blank = now) and an optional note."""

    kind: ClassVar[str]
    occurred_label: ClassVar[str] = "When it happened"
    submit_label: ClassVar[str] = "Record"

    note = _text("Note", rows=2)
    occurred_at = forms.DateTimeField(
        required=False,
        widget=DateTimeLocalInput(),
        help_text="Leave blank for now; fill in to record a step that happened earlier.",
    )

    def __init__(self, *args, show_production: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].label = self.occurred_label
        if not show_production:
            # Roles that may not see revenue are never asked for it either.
            self.fields.pop("production", None)
        # The step's own fields first, then the note, then the (rarely used) backdating.
        order = [n for n in self.fields if n not in ("note", "occurred_at")]
        self.order_fields([*order, "note", "occurred_at"])
        # The form opens on a click: the cursor goes to its first field (htmx honours it).
        next(iter(self.fields.values())).widget.attrs["autofocus"] = True

    def clean_occurred_at(self):
        value = self.cleaned_data.get("occurred_at")
        if value and value > timezone.now() + FUTURE_TOLERANCE:
            raise ValidationError("This is in the future: a step is recorded once it happened.")
        return value

    def milestone_kwargs(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value is not None}


class ConsultScheduledForm(StepForm):
    kind = K.CONSULT_SCHEDULED
    occurred_label = "When it was booked"
    submit_label = "Record booking"
    scheduled_for = _appointment("Consult appointment")


class ConsultCompletedForm(StepForm):
    kind = K.CONSULT_COMPLETED
    submit_label = "Record consult"
    findings = _text("Findings", required=True, rows=4)
    recommendation = _text("Treatment recommendation", rows=3)


class TreatmentAcceptedForm(StepForm):
    kind = K.TREATMENT_ACCEPTED
    submit_label = "Record acceptance"


class TreatmentDeclinedForm(StepForm):
    kind = K.TREATMENT_DECLINED
    submit_label = "Record decline"
    reason = forms.CharField(
        label="Why the patient declined",
        max_length=300,
        error_messages={"required": "Say why the patient declined."},
    )


class SurgeryScheduledForm(StepForm):
    kind = K.SURGERY_SCHEDULED
    occurred_label = "When it was booked"
    submit_label = "Record booking"
    scheduled_for = _appointment("Surgery date")
    procedure = forms.CharField(label="Planned procedure", max_length=200)


class SurgeryCompletedForm(StepForm):
    kind = K.SURGERY_COMPLETED
    submit_label = "Record surgery"
    procedure = forms.CharField(label="Procedure performed", max_length=200)
    production = forms.DecimalField(
        label="Production ($)",
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        help_text="The amount billed for this surgery, in dollars. Leave blank if not known.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )


class PostopVisitForm(StepForm):
    kind = K.POSTOP_VISIT
    submit_label = "Record visit"
    note = _text("Visit note", required=True, rows=3)


class NoShowForm(StepForm):
    kind = K.NO_SHOW
    occurred_label = "Missed appointment time"
    submit_label = "Record no-show"


class ClosedForm(StepForm):
    kind = K.CLOSED
    occurred_label = "When it was closed"
    submit_label = "Close case"


class CancelledForm(StepForm):
    kind = K.CANCELLED
    occurred_label = "When it was cancelled"
    submit_label = "Cancel case"
    reason = forms.CharField(
        label="Why the case is cancelled",
        max_length=300,
        error_messages={"required": "Say why the case is cancelled."},
    )


STEP_FORMS: dict[str, type[StepForm]] = {
    form.kind: form
    for form in (
        ConsultScheduledForm,
        ConsultCompletedForm,
        TreatmentAcceptedForm,
        TreatmentDeclinedForm,
        SurgeryScheduledForm,
        SurgeryCompletedForm,
        PostopVisitForm,
        NoShowForm,
        ClosedForm,
        CancelledForm,
    )
}


class UndoForm(forms.Form):
    void_reason = forms.CharField(
        label="What was wrong with this step?",
        max_length=300,
        error_messages={"required": "Say what was wrong with this step."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's field errors on the form's fields (or above it if it has no such
    field), so the page shows each message next to the field it is about."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
