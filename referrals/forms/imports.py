"""Forms of the CSV import: the upload and the user's choice of how to import."""

from django import forms
from django.template.defaultfilters import filesizeformat

from ..choices import ImportMode

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # ~600,000 rows; a PMS history is far smaller
EMPTY_FILE = "The file is empty: it has no header row and no data."


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, comma-separated, with the header row shown below.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"empty": EMPTY_FILE},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError(EMPTY_FILE)
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the most is "
                f"{filesizeformat(MAX_UPLOAD_BYTES)}. Split it into several files."
            )
        return upload


class ImportStartForm(forms.Form):
    mode = forms.ChoiceField(choices=ImportMode.choices)
