"""The import wizard: a practice's own export (any headers, encoding, delimiter, XLSX, date
format, procedure rows) mapped onto our columns step by step, then the existing check and
import flow (``imports.py``) runs with that mapping.

Every step is a page with a plain form that saves into ``ImportJob.mapping`` and redirects
to the next step; JavaScript only enhances. The wizard's state is the job itself, so a step
can be revisited from the preview in any order. Samples, distinct values, offices and the
preview quote the file: patient data, so each is audited like the import detail.
"""

import json

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from practices.access import Action
from practices.audit import AuditAction, record
from practices.permissions import practice_required

from ..choices import ImportMode, ImportStatus
from ..forms.imports import ImportUploadForm
from ..forms.imports_wizard import (
    ColumnsForm,
    DatesForm,
    FileForm,
    OfficesForm,
    PresetForm,
    ValuesForm,
    WizardImportForm,
)
from ..importing import cdt, dates, jobs, mapping, offices, pipeline, presets, sources
from ..importing.vocabulary import COLUMNS
from ..models import ImportJob, ImportPreset
from .imports import _preview_line

PREVIEW_CASES = 50
STEPS = [
    ("file", "File", "import_wizard_file"),
    ("columns", "Columns", "import_wizard_columns"),
    ("values", "Values", "import_wizard_values"),
    ("dates", "Dates", "import_wizard_dates"),
    ("offices", "Offices", "import_wizard_offices"),
    ("preview", "Preview", "import_wizard_preview"),
]


# --- helpers -------------------------------------------------------------------------------


def _mapping_job(request, pk) -> ImportJob:
    # Inside the practice's scope: another practice's job is not found (404).
    return get_object_or_404(ImportJob, pk=pk)


def _not_mapping(job: ImportJob):
    """A job past its mapping step is shown by the import detail page."""
    if job.status != ImportStatus.MAPPING:
        return redirect("import_detail", job.pk)
    return None


def _info(job: ImportJob) -> sources.SourceInfo:
    return sources.SourceInfo.from_json(job.file_info)


def _mapping(job: ImportJob) -> mapping.Mapping:
    if job.mapping:
        return mapping.Mapping.from_json(job.mapping)
    return mapping.suggest(_info(job))


def _save(job: ImportJob, m: mapping.Mapping) -> None:
    job.mapping = m.to_json()
    job.save(update_fields=["mapping", "updated_at"])


def _audit(request, job: ImportJob, what: str, count: int | None = None) -> None:
    record(
        request,
        AuditAction.VIEWED,
        obj=job,
        object_type="patient",
        count=count,
        summary=f"Import #{job.pk} wizard: {what}",
    )


def _page(request, job, step: str, template: str, context: dict):
    steps = [(key, label, reverse(name, args=[job.pk]), key == step) for key, label, name in STEPS]
    return render(
        request,
        f"referrals/imports/wizard/{template}",
        {"job": job, "steps": steps, "step": step, **context},
    )


def _target_choices() -> list[tuple[str, str]]:
    return [(value, label) for value, label in mapping.Target.choices if value]


def _mapped(m: mapping.Mapping, target: str) -> list[str]:
    return [header for header, t in m.columns.items() if t == target]


# --- upload --------------------------------------------------------------------------------


@practice_required(Action.IMPORT)
def wizard_upload(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # The header decides the way: our own format goes straight to the check.
            own_format = set(sources.inspect(upload, upload.name).header) == set(COLUMNS)
            upload.seek(0)
            job = jobs.create_job(
                request.practice, upload, user=request.user, mapping_step=not own_format
            )
        except sources.FileProblem as problem:
            form.add_error("file", str(problem))
        else:
            record(
                request,
                AuditAction.CREATED,
                obj=job,
                count=job.total_rows,
                summary=f"Import #{job.pk}: file uploaded, about {job.total_rows} rows",
            )
            if own_format:
                return _check_our_format(request, job)
            info = _info(job)
            preset = presets.find_for(info.header)
            if isinstance(preset, ImportPreset):
                # The practice's own preset for these headers (any order or case): a monthly
                # re-export. Applied at once; the preview offers "change the mapping".
                _apply_preset(job, preset, info)
                messages.info(request, f"Your preset “{preset.name}” was applied.")
                return redirect("import_wizard_preview", job.pk)
            with job.file.open("rb") as stream:
                _save(job, mapping.suggest(info, stream))
            return redirect("import_wizard_file", job.pk)
    presets_list = ImportPreset.objects.order_by("name")
    return render(
        request,
        "referrals/imports/wizard/upload.html",
        {"form": form, "presets": presets_list, "sync_max_rows": jobs.sync_max_rows()},
    )


def _check_our_format(request, job: ImportJob):
    if jobs.runs_in_worker(job):
        jobs.queue_check(job)
    else:
        jobs.check_job(job.pk)
    return redirect("import_detail", job.pk)


def _apply_preset(job: ImportJob, preset, info) -> None:
    m = presets.mapping_for(preset, info.header, info.samples)
    _save(job, m)
    if isinstance(preset, ImportPreset):
        job.preset = preset
        job.save(update_fields=["preset", "updated_at"])


@require_POST
@practice_required(Action.IMPORT)
def wizard_use_preset(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info = _info(job)
    preset = presets.find_for(info.header)
    if preset is None:
        messages.error(request, "No preset matches this file's columns.")
        return redirect("import_wizard_columns", job.pk)
    _apply_preset(job, preset, info)
    return redirect("import_wizard_preview", job.pk)


# --- steps ---------------------------------------------------------------------------------


@practice_required(Action.IMPORT)
def wizard_file(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info = _info(job)
    form = FileForm(
        request.POST or None, initial={"encoding": info.encoding, "delimiter": info.delimiter}
    )
    if request.method == "POST" and form.is_valid():
        encoding, delimiter = form.cleaned_data["encoding"], form.cleaned_data["delimiter"]
        if (encoding or info.encoding, delimiter or info.delimiter) != (
            info.encoding,
            info.delimiter,
        ):
            try:
                jobs.reinspect(job, encoding=encoding, delimiter=delimiter)
            except sources.FileProblem as problem:
                form.add_error(None, str(problem))
            else:
                info = _info(job)
                with job.file.open("rb") as stream:
                    _save(job, mapping.suggest(info, stream))
                messages.info(request, "The file was read again with your choice.")
                return redirect("import_wizard_file", job.pk)
        if not form.errors:
            return redirect("import_wizard_columns", job.pk)
    return _page(request, job, "file", "file.html", {"form": form, "info": info})


@practice_required(Action.IMPORT)
def wizard_columns(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info, m = _info(job), _mapping(job)
    initial = {}
    for index, header in enumerate(info.header):
        initial[f"col_{index}"] = m.columns.get(header, "")
        initial[f"split_{index}"] = m.splits.get(header, "last_first")
    form = ColumnsForm(
        request.POST or None,
        initial=initial,
        header=info.header,
        targets=_target_choices(),
        samples=info.samples,
    )
    problems = []
    if request.method == "POST" and form.is_valid():
        m.columns, m.splits = form.columns(), form.splits()
        problems = m.problems(info.header)
        _save(job, m)
        if not problems:
            return redirect("import_wizard_values", job.pk)
    elif request.method == "GET":
        problems = m.problems(info.header)
    _audit(request, job, "column samples")
    preset = presets.find_for(info.header)
    return _page(
        request,
        job,
        "columns",
        "columns.html",
        {
            "form": form,
            "info": info,
            "problems": problems,
            "preset": preset,
            "samples": info.samples,
        },
    )


def _distinct(job, info, m) -> dict[str, list[tuple[str, int]]]:
    found = {}
    for target in mapping.VALUE_TARGETS:
        if not _mapped(m, target):
            continue
        with job.file.open("rb") as stream:
            found[target] = mapping.distinct_values(stream, info, m, target)
    return found


def _procedure_codes(job, info, m, ranges) -> list[tuple[str, int, str]]:
    if not _mapped(m, "procedure_code"):
        return []
    with job.file.open("rb") as stream:
        codes = mapping.distinct_values(stream, info, m, "procedure_code")
    shown = []
    for code, count in codes:
        case_type = cdt.case_type_for(cdt.normalise_code(code), ranges) if code else None
        shown.append((code, count, case_type or ""))
    return shown


@practice_required(Action.IMPORT)
def wizard_values(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info, m = _info(job), _mapping(job)
    distinct = _distinct(job, info, m)
    initial = {}
    for target, values in distinct.items():
        # Known spellings of every distinct value (the suggestion saw only the samples),
        # then what the user chose before.
        chosen = {
            **mapping.suggest_values(target, [v for v, _ in values]),
            **m.values.get(target, {}),
        }
        for index, (value, _) in enumerate(values):
            initial[f"{target}__{index}"] = chosen.get(value, "")
    form = ValuesForm(
        request.POST or None,
        initial=initial,
        distinct=distinct,
        procedure_statuses=mapping.ProcedureStatus.choices,
    )
    if request.method == "POST" and form.is_valid():
        m.values = {**m.values, **form.values()}
        _save(job, m)
        return redirect("import_wizard_dates", job.pk)
    ranges = [tuple(r) for r in m.code_ranges] or cdt.DEFAULT_RANGES
    unmapped = sum(
        1 for target, rows in form.bound_groups() for _, _, field in rows if not field.value()
    )
    _audit(request, job, "distinct values")
    return _page(
        request,
        job,
        "values",
        "values.html",
        {
            "form": form,
            "unmapped": unmapped,
            "procedure_level": m.procedure_level,
            "ranges": ranges,
            "codes": _procedure_codes(job, info, m, ranges) if m.procedure_level else [],
        },
    )


@practice_required(Action.IMPORT)
def wizard_dates(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info, m = _info(job), _mapping(job)
    date_columns = [h for h, t in m.columns.items() if t in mapping.DATE_TARGETS]
    values = [v for h in date_columns for v in info.samples.get(h, [])]
    detected, ambiguous = dates.detect(values)
    form = DatesForm(
        request.POST or None,
        initial={"date_format": m.date_format or (detected or "")},
        formats=dates.DateFormat.choices,
    )
    if request.method == "POST" and form.is_valid():
        m.date_format = form.cleaned_data["date_format"]
        _save(job, m)
        if request.POST.get("preview"):  # "show the conversions again"
            return redirect("import_wizard_dates", job.pk)
        return redirect("import_wizard_offices", job.pk)
    fmt = dates.DateFormat(m.date_format or detected or dates.DateFormat.ISO)
    conversions = [
        (h, [(v, dates.to_iso(v, fmt)) for v in info.samples.get(h, [])]) for h in date_columns
    ]
    _audit(request, job, "date samples")
    return _page(
        request,
        job,
        "dates",
        "dates.html",
        {
            "form": form,
            "detected": dates.DateFormat(detected).label if detected else "",
            "ambiguous": ambiguous,
            "conversions": conversions,
            "format": fmt,
        },
    )


def _candidates(job, info, m):
    with job.file.open("rb") as stream:
        return offices.office_candidates(mapping.apply(stream, info, m))


@practice_required(Action.IMPORT)
def wizard_offices(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info, m = _info(job), _mapping(job)
    candidates = _candidates(job, info, m)
    uncertain = [c for c in candidates if not c.certain and c.match_id]
    certain = [c for c in candidates if c not in uncertain]
    initial = {f"office_{i}": m.offices.get(c.key, "") for i, c in enumerate(uncertain)}
    form = OfficesForm(request.POST or None, initial=initial, candidates=uncertain)
    if request.method == "POST" and form.is_valid():
        m.offices = {**m.offices, **form.choices()}
        _save(job, m)
        return redirect("import_wizard_preview", job.pk)
    return _page(request, job, "offices", "offices.html", {"form": form, "certain": certain})


@practice_required(Action.IMPORT)
def wizard_preview(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    info, m = _info(job), _mapping(job)
    problems = m.problems(info.header)
    preview = []
    if not problems:
        with job.file.open("rb") as stream:
            rows, matcher = pipeline.preview_file(
                request.practice, stream, info, m, limit=PREVIEW_CASES
            )
        preview = [_preview_line(r, matcher) for r in rows]
        record(
            request,
            AuditAction.LISTED,
            object_type="patient",
            count=len(preview),
            summary=f"Import #{job.pk} wizard preview",
        )
    return _page(
        request,
        job,
        "preview",
        "preview.html",
        {
            "problems": problems,
            "preview": preview,
            "rejected": sum(1 for row in preview if row.action == "reject"),
            "preset_form": PresetForm(initial={"name": job.preset.name if job.preset else ""}),
            "import_form": WizardImportForm(),
            "preset": job.preset,
        },
    )


@practice_required(Action.IMPORT)
def wizard_mapping_json(request, pk):
    job = _mapping_job(request, pk)
    if not job.file_info:  # an upload in our own format has no mapping to download
        raise Http404("This import has no column mapping.")
    m = _mapping(job)
    response = HttpResponse(
        json.dumps(m.to_json(), indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-mapping.json"'
    return response


@require_POST
@practice_required(Action.IMPORT)
def wizard_save_preset(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    form = PresetForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the preset a name (up to 100 characters).")
        return redirect("import_wizard_preview", job.pk)
    info = _info(job)
    preset = presets.save_preset(
        request.practice, form.cleaned_data["name"], info.header, _mapping(job), request.user
    )
    job.preset = preset
    job.save(update_fields=["preset", "updated_at"])
    messages.success(
        request, f"Saved as the preset “{preset.name}”: it is offered for files with these columns."
    )
    return redirect("import_wizard_preview", job.pk)


@require_POST
@practice_required(Action.IMPORT)
def wizard_import(request, pk):
    job = _mapping_job(request, pk)
    if response := _not_mapping(job):
        return response
    form = WizardImportForm(request.POST)
    mode = form.cleaned_data["mode"] if form.is_valid() else ImportMode.ALL_OR_NOTHING
    info, m = _info(job), _mapping(job)
    if problems := m.problems(info.header):
        messages.error(request, problems[0])
        return redirect("import_wizard_columns", job.pk)
    record(
        request,
        AuditAction.IMPORTED,
        obj=job,
        count=job.total_rows,
        summary=f"Import #{job.pk} started from the wizard ({mode})",
    )
    # Confirm, then the check and the import as one Celery job (never in this request);
    # the detail page polls its progress and then shows the summary.
    if not jobs.import_now(job, mode, m, preset=job.preset):
        messages.error(request, "This import has already started.")
    return redirect("import_detail", job.pk)


@require_POST
@practice_required(Action.IMPORT)
def preset_delete(request, pk):
    preset = get_object_or_404(ImportPreset, pk=pk)
    name = preset.name
    preset.delete()
    messages.success(request, f"The preset “{name}” was deleted.")
    return redirect("import_list")


urlpatterns = [
    path("imports/new/", wizard_upload, name="import_upload"),
    path("imports/<int:pk>/file/", wizard_file, name="import_wizard_file"),
    path("imports/<int:pk>/columns/", wizard_columns, name="import_wizard_columns"),
    path("imports/<int:pk>/values/", wizard_values, name="import_wizard_values"),
    path("imports/<int:pk>/dates/", wizard_dates, name="import_wizard_dates"),
    path("imports/<int:pk>/offices/", wizard_offices, name="import_wizard_offices"),
    path("imports/<int:pk>/preview/", wizard_preview, name="import_wizard_preview"),
    path("imports/<int:pk>/use-preset/", wizard_use_preset, name="import_wizard_use_preset"),
    path("imports/<int:pk>/mapping.json", wizard_mapping_json, name="import_wizard_mapping"),
    path("imports/<int:pk>/save-preset/", wizard_save_preset, name="import_wizard_save_preset"),
    path("imports/<int:pk>/import/", wizard_import, name="import_wizard_import"),
    path("imports/presets/<int:pk>/delete/", preset_delete, name="import_preset_delete"),
]
