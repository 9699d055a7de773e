"""Forms for referring offices and their doctors. Every message names what is wrong."""

import re

from django import forms

from ..choices import LetterChannel
from ..models import ReferringOffice, ReferringProvider

ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _clean_phone(value: str, label: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    digits = _digits(value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise forms.ValidationError(f"A {label} number has 10 digits, e.g. 555-201-3344.")
    return value


class OfficeForm(forms.ModelForm):
    class Meta:
        model = ReferringOffice
        fields = [
            "name",
            "address",
            "city",
            "state",
            "zip_code",
            "phone",
            "fax",
            "email",
            "preferred_channel",
            "external_id",
        ]
        labels = {"name": "Office name", "external_id": "PMS id"}
        help_texts = {
            "external_id": "The office's id in your practice management system, if any.",
            "preferred_channel": "How this office wants to receive letters about its patients.",
        }
        widgets = {"preferred_channel": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update({"autofocus": True})
        self.fields["name"].error_messages["required"] = "Give the office's name."
        self.fields["zip_code"].widget.attrs.update({"inputmode": "numeric"})
        for name in ("phone", "fax"):
            self.fields[name].widget.attrs.update({"type": "tel", "autocomplete": "off"})

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())

    def clean_zip_code(self):
        value = self.cleaned_data["zip_code"].strip()
        if value and not ZIP_RE.match(value):
            raise forms.ValidationError("A ZIP code is 5 digits (or ZIP+4: 12345-6789).")
        return value

    def clean_state(self):
        return self.cleaned_data["state"].strip().upper()

    def clean_phone(self):
        return _clean_phone(self.cleaned_data["phone"], "phone")

    def clean_fax(self):
        return _clean_phone(self.cleaned_data["fax"], "fax")

    def clean_external_id(self):
        value = self.cleaned_data["external_id"].strip()
        # The unique constraint names the practice, which is not a form field, so Django's
        # form validation skips it: check here (the query runs in the practice scope).
        if value:
            taken = ReferringOffice.objects.filter(external_id=value)
            if self.instance.pk:
                taken = taken.exclude(pk=self.instance.pk)
            other = taken.first()
            if other is not None:
                raise forms.ValidationError(f"This PMS id is already used by “{other.name}”.")
        return value

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("preferred_channel")
        # Letters must be deliverable the way the office asked for them.
        needs = {
            LetterChannel.EMAIL: ("email", "Letters go by email: give the office's email."),
            LetterChannel.FAX: ("fax", "Letters go by fax: give the office's fax number."),
            LetterChannel.MAIL: ("address", "Letters go by mail: give the office's address."),
        }
        if channel in needs:
            field, message = needs[channel]
            if field in cleaned and not cleaned.get(field):
                self.add_error(field, message)
        return cleaned


def npi_check_digit_ok(npi: str) -> bool:
    """The NPI's last digit is a Luhn check digit over '80840' + the first nine digits."""
    digits = [int(d) for d in "80840" + npi]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class ProviderForm(forms.ModelForm):
    # Longer than the 10 stored digits: pasted NPIs come with spaces or dashes.
    npi = forms.CharField(
        label="NPI",
        required=False,
        max_length=20,
        help_text="Optional. The 10-digit National Provider Identifier.",
    )

    class Meta:
        model = ReferringProvider
        fields = ["first_name", "last_name", "npi", "email", "is_archived"]
        labels = {"is_archived": "No longer refers from this office (archived)"}

    def __init__(self, *args, office: ReferringOffice, **kwargs):
        super().__init__(*args, **kwargs)
        self.office = office
        self.fields["first_name"].widget.attrs.update({"autofocus": True})
        self.fields["first_name"].error_messages["required"] = "Give the doctor's first name."
        self.fields["last_name"].error_messages["required"] = "Give the doctor's last name."
        self.fields["npi"].widget.attrs.update({"inputmode": "numeric"})
        if not self.instance.pk:
            del self.fields["is_archived"]

    def clean_npi(self):
        # People paste NPIs with spaces or dashes; store the 10 digits.
        raw = self.cleaned_data["npi"]
        value = re.sub(r"[\s-]", "", raw or "")
        if not value:
            return ""
        if not re.fullmatch(r"\d{10}", value):
            raise forms.ValidationError("An NPI is 10 digits.")
        if not npi_check_digit_ok(value):
            raise forms.ValidationError("This NPI's check digit is wrong: look at it again.")
        # Not unique: a doctor who works at two offices has a row at each.
        return value

    def save(self, commit=True):
        provider = super().save(commit=False)
        provider.office = self.office
        provider.practice_id = self.office.practice_id
        if commit:
            provider.save()
        return provider
