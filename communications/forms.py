"""The letter template editor's form: a subject and a body, checked by the sandbox."""

from django import forms

from .sandbox import MAX_SUBJECT_CHARS, MAX_TEMPLATE_CHARS, validate_template


class LetterTemplateForm(forms.Form):
    subject = forms.CharField(
        max_length=MAX_SUBJECT_CHARS,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "true"}),
        error_messages={"required": "Write a subject line."},
    )
    body = forms.CharField(
        max_length=MAX_TEMPLATE_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "true"}),
        error_messages={"required": "Write the letter."},
        help_text="Plain text. A blank line starts a new paragraph. The letterhead, date, "
        "address, 'Re:' line and signature are added around it.",
    )
    # The case the preview is rendered on; checked against the practice by the view.
    case = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        subject, body = cleaned.get("subject"), cleaned.get("body")
        if subject is None or body is None:
            return cleaned
        for error in validate_template(subject, body):
            field, _, message = error.partition(": ")
            self.add_error(field.lower() if field in ("Subject", "Body") else None, message)
        return cleaned
