"""The front-desk intake form: a patient (found or new), the source, for a doctor source its
office and doctor (found or new), and the case.

Every check that can fail runs in ``clean`` so nothing is written until the whole form is
valid; ``save`` then creates the new patient, office and doctor and calls
``services.create_referral`` in one transaction.
"""

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse_lazy
from django.utils import timezone

from practices.models import Practice

from ..choices import OFFICE_SOURCES, CaseType, OfficeEventKind, SourceType, Urgency
from ..models import OfficeEvent, Patient, Referral, ReferringOffice, ReferringProvider
from ..office_lookup import active_providers
from ..patients import LikelyDuplicate, likely_duplicates, mark_not_duplicates
from ..services import ReferralInput, create_referral, validate_source

NEW_DOCTOR = "new"
DATE_FORMATS = ["%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m-%d-%y", "%Y-%m-%d", "%m%d%Y"]
NEW_PATIENT_REQUIRED = "Needed for a new patient (or find the patient above)."


class DateOfBirthField(forms.DateField):
    """MM/DD/YYYY as said on the phone; a two-digit year is never in the future."""

    def __init__(self, **kwargs):
        super().__init__(input_formats=DATE_FORMATS, **kwargs)

    def to_python(self, value):
        day = super().to_python(value)
        if day is not None and day > timezone.localdate() and day.year >= 2000:
            raw = str(value).strip()
            if len(raw.replace("-", "/").rsplit("/", 1)[-1]) == 2:
                day = day.replace(year=day.year - 100)
        return day


def parse_date_of_birth(raw: str) -> dt.date | None:
    try:
        return DateOfBirthField(required=False).clean(raw)
    except ValidationError:
        return None


@dataclass
class IntakeResult:
    referral: Referral
    # The office whose first referral ever this is (a new referrer), else None.
    new_referrer: ReferringOffice | None
    # The patients the new patient was confirmed to be different from (the duplicate
    # warning's "this is a different person"): marked so the pairs are not warned of again.
    told_apart: tuple[Patient, ...] = ()


def _typeahead(url_name: str, results_id: str, placeholder: str) -> forms.TextInput:
    """A combobox: htmx asks for results as the user types; static/js/intake.js adds the
    arrow keys, Enter/Tab to choose and Escape to close."""
    return forms.TextInput(
        attrs={
            "role": "combobox",
            "aria-autocomplete": "list",
            "aria-expanded": "false",
            "aria-controls": results_id,
            "autocomplete": "off",
            "spellcheck": "false",
            "placeholder": placeholder,
            "hx-get": reverse_lazy(url_name),
            "hx-trigger": "input changed delay:150ms",
            "hx-target": f"#{results_id}",
            "hx-swap": "innerHTML",
            # A newer keystroke cancels the answer to an older one.
            "hx-sync": "this:replace",
        }
    )


def _text(placeholder: str = "", **attrs) -> forms.TextInput:
    # autocomplete=off: the browser would offer the staff member's own name and phone.
    return forms.TextInput(attrs={"autocomplete": "off", "placeholder": placeholder, **attrs})


class IntakeForm(forms.Form):
    # Patient: an existing one (hidden id set by the typeahead) or the new-patient fields.
    patient = forms.ModelChoiceField(
        label="Patient",
        queryset=Patient.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That patient is not in this practice."},
    )
    patient_q = forms.CharField(
        label="Find patient",
        required=False,
        max_length=200,
        widget=_typeahead(
            "intake_patient_search", "patient-results", "Name, chart no., phone or DOB"
        ),
    )
    first_name = forms.CharField(label="First name", required=False, max_length=100, widget=_text())
    last_name = forms.CharField(label="Last name", required=False, max_length=100, widget=_text())
    date_of_birth = DateOfBirthField(
        label="Date of birth",
        required=False,
        widget=_text("MM/DD/YYYY"),
        error_messages={"invalid": "Enter the date of birth as MM/DD/YYYY."},
    )
    phone = forms.CharField(label="Phone", required=False, max_length=40, widget=_text(type="tel"))
    chart_number = forms.CharField(
        label="Chart no.", required=False, max_length=50, widget=_text("optional")
    )
    confirm_new_patient = forms.BooleanField(
        label="This is a different person: create a new patient", required=False
    )

    # Source, and for a doctor or specialist the office and doctor.
    source_type = forms.ChoiceField(
        label="Source", choices=[("", "— choose —"), *SourceType.choices], required=False
    )
    referring_office = forms.ModelChoiceField(
        label="Referring office",
        queryset=ReferringOffice.objects.none(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That office is not in this practice's list."},
    )
    office_q = forms.CharField(
        label="Referring office",
        required=False,
        max_length=200,
        widget=_typeahead("intake_office_search", "office-results", "Office, doctor, ZIP or phone"),
    )
    # Rendered by hand: its options are the chosen office's doctors (and "new doctor").
    referring_provider = forms.CharField(label="Doctor", required=False, max_length=20)
    new_office_name = forms.CharField(
        label="Office name", required=False, max_length=200, widget=_text()
    )
    new_office_zip = forms.CharField(label="ZIP", required=False, max_length=10, widget=_text())
    new_office_phone = forms.CharField(
        label="Office phone", required=False, max_length=40, widget=_text(type="tel")
    )
    new_office_email = forms.EmailField(
        label="Office email",
        required=False,
        # Found by the property tests: a form EmailField takes up to 320 characters, the
        # column 254; a longer address was a 500 on save instead of a message here.
        max_length=ReferringOffice._meta.get_field("email").max_length,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "for letters"}),
    )
    new_doctor_first_name = forms.CharField(
        label="Doctor's first name", required=False, max_length=100, widget=_text()
    )
    new_doctor_last_name = forms.CharField(
        label="Doctor's last name", required=False, max_length=100, widget=_text()
    )

    # The case.
    case_type = forms.ChoiceField(
        label="Case type",
        choices=[("", "— choose —"), *CaseType.choices],
        error_messages={"required": "Choose the case type."},
    )
    urgency = forms.ChoiceField(label="Urgency", choices=Urgency.choices, initial=Urgency.ROUTINE)
    # One line on purpose: Enter saves everywhere in this form.
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=_text("e.g. #17 and #32 impacted, pain"),
    )

    # Text, not type=date: a date input takes three Tab presses to cross.
    received_on = forms.DateField(
        label="Received",
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(
            attrs={"autocomplete": "off", "placeholder": "MM/DD/YYYY"}, format="%m/%d/%Y"
        ),
        error_messages={
            "required": "Give the date the referral was received.",
            "invalid": "Enter the date received as MM/DD/YYYY.",
        },
    )

    # Where an error on a hidden field is shown and focused.
    ERROR_TARGETS = {"patient": "patient_q", "referring_office": "office_q"}

    def __init__(self, *args, practice: Practice, **kwargs):
        super().__init__(*args, **kwargs)
        self.practice = practice
        # Querysets are built here, inside the request's practice scope.
        self.fields["patient"].queryset = Patient.objects.all()
        self.fields["referring_office"].queryset = ReferringOffice.objects.filter(
            is_archived=False
        ).prefetch_related(active_providers())
        self.fields["received_on"].initial = timezone.localdate
        self.duplicates: list[LikelyDuplicate] = []
        self.new_patient: Patient | None = None
        self.new_office: ReferringOffice | None = None
        self.new_provider: ReferringProvider | None = None
        self.provider: ReferringProvider | None = None

    # -- what the template shows ------------------------------------------------------

    def _picked(self, name: str):
        """The chosen patient or office, from the cleaned, posted or initial value."""
        if hasattr(self, "cleaned_data") and name in self.cleaned_data:
            return self.cleaned_data[name]
        value = self[name].value()
        if isinstance(value, Patient | ReferringOffice):
            return value
        if not value:
            return None
        try:
            return self.fields[name].clean(value)
        except ValidationError:
            return None

    @property
    def chosen_patient(self) -> Patient | None:
        if not hasattr(self, "_chosen_patient"):
            self._chosen_patient = self._picked("patient")
        return self._chosen_patient

    @property
    def chosen_office(self) -> ReferringOffice | None:
        if not hasattr(self, "_chosen_office"):
            self._chosen_office = self._picked("referring_office")
        return self._chosen_office

    @property
    def provider_choice(self) -> str:
        return str(self["referring_provider"].value() or "")

    @property
    def new_office_mode(self) -> bool:
        return self.chosen_office is None and bool(self["new_office_name"].value())

    @property
    def new_doctor_mode(self) -> bool:
        return self.new_office_mode or self.provider_choice == NEW_DOCTOR

    @property
    def office_section_hidden(self) -> bool:
        source = self["source_type"].value()
        return bool(source) and source not in OFFICE_SOURCES

    @property
    def errors_in_page_order(self) -> list[tuple[str, str, str]]:
        """(id of the input to jump to, field label, message) for the error summary."""
        found = []
        for name, field in self.fields.items():
            target = self.ERROR_TARGETS.get(name, name)
            for message in self.errors.get(name, []):
                found.append((f"id_{target}", field.label, message))
        found.extend(("", "", message) for message in self.non_field_errors())
        return found

    @property
    def focus_name(self) -> str:
        """The field the cursor starts in: the first one in error, else the first to fill."""
        for name in self.fields:
            if name in self.errors:
                return self.ERROR_TARGETS.get(name, name)
        return "source_type" if self.chosen_patient else "patient_q"

    def prepare_focus(self) -> None:
        name = self.focus_name
        if name != "referring_provider":  # rendered by hand, see the template
            self.fields[name].widget.attrs["autofocus"] = True

    # -- validation -------------------------------------------------------------------

    def clean(self):
        cleaned = super().clean()
        self._clean_patient(cleaned)
        self._clean_source(cleaned)
        received = cleaned.get("received_on")
        if received and received > timezone.localdate():
            self.add_error("received_on", "A referral cannot be received in the future.")
        return cleaned

    def _clean_patient(self, cleaned: dict) -> None:
        if cleaned.get("patient") or self.has_error("patient"):
            return
        first = cleaned.get("first_name", "").strip()
        last = cleaned.get("last_name", "").strip()
        born = cleaned.get("date_of_birth")
        chart = cleaned.get("chart_number", "").strip()
        phone = cleaned.get("phone", "").strip()
        if not (first or last or born or self.has_error("date_of_birth")):
            self.add_error("patient_q", "Find the patient, or enter a new patient's details.")
            return
        for name, value in (("first_name", first), ("last_name", last)):
            if not value:
                self.add_error(name, NEW_PATIENT_REQUIRED)
        if born is None and not self.has_error("date_of_birth"):
            self.add_error("date_of_birth", NEW_PATIENT_REQUIRED)
        elif born is not None and born > timezone.localdate():
            self.add_error("date_of_birth", "A date of birth cannot be in the future.")
        if chart and Patient.objects.filter(chart_number=chart).exists():
            self.add_error(
                "chart_number", "This chart number belongs to a patient we have: find them above."
            )
        self.duplicates = likely_duplicates(
            first_name=first, last_name=last, date_of_birth=born, phone=phone
        )
        if self.duplicates and not cleaned.get("confirm_new_patient"):
            self.add_error(
                "confirm_new_patient",
                "This may be a patient we already have: use them, or confirm a new patient.",
            )
        if first and last and born:
            self.new_patient = Patient(
                practice=self.practice,
                first_name=first,
                last_name=last,
                date_of_birth=born,
                phone=phone,
                chart_number=chart,
            )

    def _clean_source(self, cleaned: dict) -> None:
        source = cleaned.get("source_type", "")
        office = cleaned.get("referring_office")
        provider = None
        if source in OFFICE_SOURCES:
            if self.has_error("referring_office"):
                return
            if office is None and cleaned.get("new_office_name", "").strip():
                office = self._clean_new_office(cleaned)
                provider = self._clean_new_doctor(cleaned, office)
            elif office is not None:
                provider = self._clean_provider_choice(cleaned, office)
            doctor_fields = ("referring_provider", "new_doctor_first_name", "new_doctor_last_name")
            if provider is None and any(self.has_error(name) for name in doctor_fields):
                return  # the doctor's fields already say what is missing
        try:
            validate_source(self.practice, source, office, provider)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)

    def _clean_new_office(self, cleaned: dict) -> ReferringOffice:
        name = cleaned["new_office_name"].strip()
        zip_code = cleaned.get("new_office_zip", "").strip()
        phone = cleaned.get("new_office_phone", "").strip()
        if not zip_code:
            self.add_error("new_office_zip", "Give the new office's ZIP code.")
        if not phone:
            self.add_error("new_office_phone", "Give the new office's phone number.")
        if (
            zip_code
            and ReferringOffice.objects.filter(name__iexact=name, zip_code=zip_code).exists()
        ):
            self.add_error(
                "new_office_name",
                "An office with this name and ZIP is already in the list: search for it above.",
            )
        self.new_office = ReferringOffice(
            practice=self.practice,
            name=name,
            zip_code=zip_code,
            phone=phone,
            email=cleaned.get("new_office_email", ""),
        )
        return self.new_office

    def _clean_new_doctor(self, cleaned: dict, office: ReferringOffice) -> ReferringProvider | None:
        first = cleaned.get("new_doctor_first_name", "").strip()
        last = cleaned.get("new_doctor_last_name", "").strip()
        if not first:
            self.add_error("new_doctor_first_name", "Give the referring doctor's first name.")
        if not last:
            self.add_error("new_doctor_last_name", "Give the referring doctor's last name.")
        if not (first and last):
            return None
        self.new_provider = ReferringProvider(
            practice=self.practice, office=office, first_name=first, last_name=last
        )
        return self.new_provider

    def _clean_provider_choice(
        self, cleaned: dict, office: ReferringOffice
    ) -> ReferringProvider | None:
        choice = cleaned.get("referring_provider", "")
        named = cleaned.get("new_doctor_first_name") or cleaned.get("new_doctor_last_name")
        if choice == NEW_DOCTOR or (not choice and named):
            return self._clean_new_doctor(cleaned, office)
        if not choice:
            return None  # validate_source names the missing doctor
        # The office's own active doctors were prefetched with it: no query here.
        self.provider = next(
            (p for p in office.active_providers if str(p.pk) == choice),
            None,
        )
        if self.provider is None:
            self.add_error("referring_provider", "Choose one of this office's doctors.")
        return self.provider

    # -- saving -----------------------------------------------------------------------

    @transaction.atomic
    def save(self, *, user) -> IntakeResult:
        """Create what is new (patient, office, doctor) and the referral, all or nothing."""
        cleaned = self.cleaned_data
        patient = cleaned["patient"]
        told_apart: list[Patient] = []
        if patient is None:
            patient = self.new_patient
            patient.save()
            # Only reached with confirm_new_patient ticked when the warning showed anyone.
            for duplicate in self.duplicates:
                if mark_not_duplicates(patient, duplicate.patient, by=user):
                    told_apart.append(duplicate.patient)
        office = provider = None
        if cleaned["source_type"] in OFFICE_SOURCES:
            office = cleaned["referring_office"]
            if office is None:
                office = self.new_office
                office.save()
            provider = self.provider
            if self.new_provider is not None:
                provider = self.new_provider
                provider.office = office
                provider.save()
        referral = create_referral(
            self.practice,
            ReferralInput(
                patient=patient,
                source_type=cleaned["source_type"],
                case_type=cleaned["case_type"],
                received_on=cleaned["received_on"],
                referring_office=office,
                referring_provider=provider,
                reason=cleaned["reason"].strip(),
                urgency=cleaned["urgency"],
            ),
            created_by=user,
        )
        is_first = (
            office is not None
            and OfficeEvent.objects.filter(
                referral=referral, kind=OfficeEventKind.FIRST_REFERRAL
            ).exists()
        )
        return IntakeResult(referral, office if is_first else None, tuple(told_apart))
