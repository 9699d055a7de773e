"""Forms of the import: the upload and the user's choice of how to import."""

from django import forms
from django.template.defaultfilters import filesizeformat

from ..choices import ImportMode

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # ~600,000 rows; a PMS history is far smaller
EMPTY_FILE = "The file is empty: it has no header row and no data."


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Export file",
        help_text="CSV, TSV or Excel (.xlsx), with a header row.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.tsv,.txt,.xlsx,text/csv,text/tab-separated-values"}
        ),
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
