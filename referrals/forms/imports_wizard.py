"""Forms of the import wizard. Each step's form is built from the file's header or values,
so the fields are added in ``__init__``; every choice is a plain select that works without
JavaScript."""

from django import forms

from ..choices import CaseType, ImportMode, SourceType

DECISIONS = [("accepted", "Accepted"), ("declined", "Declined")]

ENCODINGS = [
    ("", "As detected"),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252"),
    ("latin-1", "Latin-1"),
]
DELIMITERS = [
    ("", "As detected"),
    (",", "Comma ,"),
    (";", "Semicolon ;"),
    ("\t", "Tab"),
    ("|", "Bar |"),
]
SPLITS = [("last_first", "Last, First"), ("first_last", "First Last")]
IGNORE = ("", "— ignore —")
UNMAPPED = ("", "— leave as is (refused) —")


def field_name(index: int) -> str:
    # Headers are free text (spaces, "#", dots): fields are named by position.
    return f"col_{index}"


class FileForm(forms.Form):
    encoding = forms.ChoiceField(choices=ENCODINGS, required=False)
    delimiter = forms.ChoiceField(choices=DELIMITERS, required=False)


class ColumnsForm(forms.Form):
    """One select of our fields per column of the file, and a split kind for name columns."""

    def __init__(self, *args, header: list[str], targets, samples=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.header = header
        self.samples = samples or {}
        for index, name in enumerate(header):
            self.fields[field_name(index)] = forms.ChoiceField(
                label=name, choices=[IGNORE, *targets], required=False
            )
            self.fields[f"split_{index}"] = forms.ChoiceField(
                label=f"{name}: order", choices=SPLITS, required=False
            )

    def columns(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[field_name(i)]
            for i, name in enumerate(self.header)
            if self.cleaned_data[field_name(i)]
        }

    def splits(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[f"split_{i}"]
            for i, name in enumerate(self.header)
            if self.cleaned_data[field_name(i)] == "patient_name"
            and self.cleaned_data[f"split_{i}"]
        }

    def rows(self):
        """(header, samples, select, split select) per column, for the template."""
        return [
            (name, self.samples.get(name, []), self[field_name(i)], self[f"split_{i}"])
            for i, name in enumerate(self.header)
        ]


def value_choices(target: str, procedure_statuses) -> list[tuple[str, str]]:
    return {
        "source_type": SourceType.choices,
        "case_type": CaseType.choices,
        "decision": DECISIONS,
        "procedure_status": procedure_statuses,
    }[target]


class ValuesForm(forms.Form):
    """Per mapped value column: each distinct value of the file beside a select of ours."""

    def __init__(
        self, *args, distinct: dict[str, list[tuple[str, int]]], procedure_statuses, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.groups = []
        for target, values in distinct.items():
            rows = []
            for index, (value, count) in enumerate(values):
                name = f"{target}__{index}"
                self.fields[name] = forms.ChoiceField(
                    label=value or "(empty)",
                    choices=[UNMAPPED, *value_choices(target, procedure_statuses)],
                    required=False,
                )
                rows.append((value, count, name))
            self.groups.append((target, rows))

    def values(self) -> dict[str, dict[str, str]]:
        return {
            target: {
                value: self.cleaned_data[name] for value, _, name in rows if self.cleaned_data[name]
            }
            for target, rows in self.groups
        }

    def bound_groups(self):
        return [
            (target, [(value, count, self[name]) for value, count, name in rows])
            for target, rows in self.groups
        ]


class DatesForm(forms.Form):
    def __init__(self, *args, formats, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["date_format"] = forms.ChoiceField(
            choices=formats, label="Dates in this file are"
        )


class OfficesForm(forms.Form):
    """An uncertain office match: the same office as an existing one, or a new one."""

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        for index, candidate in enumerate(candidates):
            self.fields[f"office_{index}"] = forms.ChoiceField(
                label=candidate.name,
                choices=[
                    (str(candidate.match_id), f"Same as {candidate.match_name}"),
                    ("new", "Keep apart (a new office)"),
                ],
                widget=forms.RadioSelect,
            )

    def choices(self) -> dict[str, str]:
        return {c.key: self.cleaned_data[f"office_{i}"] for i, c in enumerate(self.candidates)}

    def rows(self):
        return [(c, self[f"office_{i}"]) for i, c in enumerate(self.candidates)]


class PresetForm(forms.Form):
    name = forms.CharField(max_length=100, label="Preset name")


class WizardImportForm(forms.Form):
    mode = forms.ChoiceField(
        choices=ImportMode.choices, initial=ImportMode.ALL_OR_NOTHING, widget=forms.RadioSelect
    )
