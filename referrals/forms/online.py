"""Forms of the online referral: the public form a GP office fills in, and the front desk's
accept and reject forms in the inbox."""

import datetime as dt
import re

from django import forms
from django.utils import timezone

from ..choices import CaseType, Urgency
from ..models import OnlineReferral, Patient, ReferringOffice, ReferringProvider
from ..online_intake import PUBLIC_FIELDS
from ..uploads import MAX_ATTACHMENTS, UploadRejected, check_attachment

HONEYPOT_FIELD = "leave_blank"
NEW = "new"
OTHER = "other"

_zip_re = re.compile(r"^\d{5}(-\d{4})?$")
_phone_re = re.compile(r"^[0-9()+.\-\s]*(x\s?\d+)?$", re.IGNORECASE)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class OnlineReferralForm(forms.ModelForm):
    """What a GP office sends us. Every message names its field; files are checked by
    content (see referrals.uploads) and each refused file is named."""

    required_css_class = "required"

    attachments = MultipleFileField(
        required=False,
        label="Attach files",
        help_text=f"Up to {MAX_ATTACHMENTS} files, 10 MB each: JPEG, PNG, GIF or TIFF images, "
        "PDF, or DICOM (.dcm) radiographs.",
        widget=MultipleFileInput(
            attrs={
                "accept": "image/jpeg,image/png,image/gif,image/tiff,.pdf,.dcm,application/dicom"
            }
        ),
    )
    # Hidden from people by CSS; bots fill every field they find.
    leave_blank = forms.CharField(required=False, label="Leave this field empty")

    class Meta:
        model = OnlineReferral
        fields = list(PUBLIC_FIELDS)
        labels = {
            "office_name": "Office name",
            "office_phone": "Office phone",
            "office_zip": "Office ZIP code",
            "office_email": "Office email",
            "doctor_first_name": "Doctor’s first name",
            "doctor_last_name": "Doctor’s last name",
            "doctor_email": "Doctor’s email",
            "patient_first_name": "Patient’s first name",
            "patient_last_name": "Patient’s last name",
            "patient_date_of_birth": "Date of birth",
            "patient_phone": "Patient’s phone",
            "patient_email": "Patient’s email",
            "case_type": "Type of case",
            "urgency": "Urgency",
            "reason": "Reason for referral",
        }
        widgets = {
            "patient_date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "reason": forms.Textarea(
                attrs={"rows": 4, "placeholder": "e.g. Impacted #17 and #32, pain on the right"}
            ),
            "office_phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
            "patient_phone": forms.TextInput(attrs={"type": "tel"}),
            "office_zip": forms.TextInput(attrs={"inputmode": "numeric"}),
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for name in ("office_phone", "patient_phone"):
            self.fields[name].required = True
        self.fields["case_type"].choices = [("", "Choose…"), *CaseType.choices]
        self.fields["urgency"].initial = Urgency.ROUTINE
        self.fields[HONEYPOT_FIELD].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        self.checked_files = []

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT_FIELD, "").strip())

    def _clean_phone(self, name):
        value = self.cleaned_data[name].strip()
        if value and (not _phone_re.match(value) or len(re.sub(r"\D", "", value)) < 10):
            raise forms.ValidationError("Enter a phone number with its area code.")
        return value

    def clean_office_phone(self):
        return self._clean_phone("office_phone")

    def clean_patient_phone(self):
        return self._clean_phone("patient_phone")

    def clean_office_zip(self):
        value = self.cleaned_data["office_zip"].strip()
        if value and not _zip_re.match(value):
            raise forms.ValidationError("Enter a 5-digit ZIP code (or ZIP+4).")
        return value

    def clean_patient_date_of_birth(self):
        born = self.cleaned_data["patient_date_of_birth"]
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if born < today - dt.timedelta(days=366 * 120):
            raise forms.ValidationError("Check the year of the date of birth.")
        return born

    def clean_attachments(self):
        files = self.cleaned_data["attachments"]
        if len(files) > MAX_ATTACHMENTS:
            raise forms.ValidationError(
                f"You attached {len(files)} files; send at most {MAX_ATTACHMENTS}."
            )
        errors, checked = [], []
        for upload in files:
            try:
                checked.append((upload, check_attachment(upload, upload.name, upload.size)))
            except UploadRejected as exc:
                errors.append(str(exc))
        if errors:
            raise forms.ValidationError(errors)
        self.checked_files = checked
        return files

    def clean(self):
        cleaned = super().clean()
        no_email = not cleaned.get("office_email") and not cleaned.get("doctor_email")
        if no_email and not {"office_email", "doctor_email"} & set(self.errors):
            self.add_error(
                "office_email",
                "Give an email for the office or the doctor, so we can send you "
                "updates about your patient.",
            )
        return cleaned


class ProviderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj} — {obj.office.name}"


class AcceptForm(forms.Form):
    """The front desk's decisions: which office, doctor and patient this submission is.

    Each choice offers the suggestions, "create new" and (offices and doctors) any other
    row of the practice; a chart number finds any existing patient, suggested or not."""

    office = forms.ChoiceField(widget=forms.RadioSelect, label="Referring office")
    other_office = forms.ModelChoiceField(
        queryset=ReferringOffice.objects.none(), required=False, label="Another office"
    )
    provider = forms.ChoiceField(widget=forms.RadioSelect, label="Referring doctor")
    other_provider = ProviderChoiceField(
        queryset=ReferringProvider.objects.none(), required=False, label="Another doctor"
    )
    patient = forms.ChoiceField(widget=forms.RadioSelect, label="Patient")
    chart_number = forms.CharField(
        required=False,
        max_length=50,
        label="Chart no.",
        help_text="An existing patient's chart no. matches them; for a new patient it is "
        "saved with them.",
    )

    def __init__(self, *args, online: OnlineReferral, suggestions, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.online = online
        self.suggestions = suggestions
        # Querysets are lazy: they run inside the request's practice scope.
        self.fields["other_office"].queryset = ReferringOffice.objects.filter(is_archived=False)
        self.fields["other_provider"].queryset = ReferringProvider.objects.filter(
            is_archived=False
        ).select_related("office")
        for name in ("other_office", "other_provider"):
            # Picking from the list also picks its radio button (static/js/app.js; without
            # JS: click both).
            self.fields[name].widget.attrs["data-picks-radio"] = True
        for name, found, best in (
            ("office", suggestions.offices, suggestions.best_office),
            ("provider", suggestions.providers, suggestions.best_provider),
            ("patient", suggestions.patients, suggestions.best_patient),
        ):
            choices = [(str(s.obj.pk), str(s.obj)) for s in found]
            if name != "patient":
                choices.append((OTHER, "Another one"))
            self.fields[name].choices = [*choices, (NEW, "Create new")]
            self.fields[name].initial = str(best.pk) if best else NEW

    def _chosen(self, name, model):
        value = self.cleaned_data[name]
        if value == NEW:
            return None
        if value == OTHER:
            other = self.cleaned_data.get(f"other_{name}")
            if other is None:
                self.add_error(f"other_{name}", "Choose one from the list.")
            return other
        try:
            return model.objects.get(pk=value)
        except model.DoesNotExist:
            self.add_error(name, "This choice is no longer available.")
            return None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        office = self._chosen("office", ReferringOffice)
        provider = self._chosen("provider", ReferringProvider)
        patient = self._chosen("patient", Patient)
        chart = cleaned.get("chart_number", "").strip()
        if chart:
            by_chart = Patient.objects.filter(chart_number=chart).first()
            if by_chart is not None:
                if patient is not None and patient.pk != by_chart.pk:
                    self.add_error(
                        "chart_number",
                        f"Chart no. {chart} belongs to another patient than the one chosen.",
                    )
                patient = by_chart
        if self.errors:
            return cleaned
        if provider is not None and (office is None or provider.office_id != office.pk):
            self.add_error(
                "provider",
                f"{provider} works at {provider.office.name}: choose that office, "
                "or create a new doctor.",
            )
        cleaned.update(office=office, provider=provider, patient=patient, chart_number=chart)
        return cleaned


class RejectForm(forms.Form):
    reject_reason = forms.CharField(
        max_length=300,
        label="Reason",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Duplicate of a phoned-in referral"}),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
