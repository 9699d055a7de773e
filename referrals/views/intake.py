"""Front-desk intake: one keyboard-first form, and the typeahead fragments it asks for.

The form posts as a plain form (Enter saves; errors come back inline, the form re-rendered
with what was typed). The typeaheads are htmx GETs that swap a listbox of results; without
JavaScript the same URLs answer as whole pages whose links carry the form's values back to
the intake page, so the form works without JS too.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods

from practices.access import Action
from practices.audit import AuditAction, record
from practices.permissions import practice_required

from ..forms.intake import IntakeForm, parse_date_of_birth
from ..office_lookup import search_offices
from ..patients import likely_duplicates, search_patients

# The fields an intake URL may prefill (a patient page's "new referral", the no-JS search).
PREFILL_FIELDS = frozenset(IntakeForm.base_fields) - {"confirm_new_patient"}
# Cleared when an existing patient is picked: they would otherwise describe a new one.
NEW_PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "phone", "chart_number")


def _typed(params: QueryDict, *names: str) -> str:
    """What is in a search box, without NUL characters. Found by the property tests: a
    NUL typed or pasted into a typeahead reached PostgreSQL, which refuses one in text, and
    every keystroke after it answered 500. No one searches for one."""
    for name in names:
        if value := params.get(name):
            return value.replace("\x00", "")
    return ""


def _prefill(params: QueryDict) -> dict:
    return {name: params[name] for name in PREFILL_FIELDS if params.get(name)}


@practice_required(Action.INTAKE)
@require_http_methods(["GET", "POST"])
def intake(request):
    if request.method == "POST" and request.POST.get("use_patient"):
        # "Use this patient" on a duplicate warning: show the form again with them chosen.
        initial = _prefill(request.POST)
        for name in NEW_PATIENT_FIELDS:
            initial.pop(name, None)
        initial["patient"] = request.POST["use_patient"]
        form = IntakeForm(initial=initial, practice=request.practice)
    elif request.method == "POST":
        form = IntakeForm(request.POST, practice=request.practice)
        if form.is_valid():
            try:
                result = form.save(user=request.user)
            except ValidationError as exc:
                # A race the form could not see (e.g. an office archived meanwhile).
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                return _saved(request, result, then_new=request.POST.get("then") == "new")
    else:
        form = IntakeForm(initial=_prefill(request.GET), practice=request.practice)
    form.prepare_focus()
    if request.method == "GET" and form.chosen_patient is not None:
        # The form opens with a patient chosen (their page's "new referral"): a look at them.
        record(request, AuditAction.VIEWED, obj=form.chosen_patient, summary="Intake form")
    return render(request, "referrals/intake/form.html", {"form": form})


def _saved(request, result, *, then_new: bool):
    referral = result.referral
    record(request, AuditAction.CREATED, obj=referral, summary="Referral entered at intake")
    for other in result.told_apart:
        record(
            request,
            AuditAction.CHANGED,
            obj=referral.patient,
            summary=f"Marked not a duplicate of patient #{other.pk} (intake)",
        )
    case_url = reverse("referral_detail", args=[referral.pk])
    # Messages may travel in a cookie: ids and office names only, never the patient's name.
    messages.success(
        request, format_html('Referral <a href="{}">#{}</a> saved.', case_url, referral.pk)
    )
    if result.new_referrer is not None:
        messages.info(request, f"First referral from {result.new_referrer.name} — a new referrer.")
    if then_new:
        return redirect("intake")
    return redirect(case_url)


def _carry_back(params: QueryDict, **chosen) -> str:
    """The intake URL with the form's values and the chosen patient or office."""
    carried = QueryDict(mutable=True)
    carried.update({k: v for k, v in _prefill(params).items() if k not in chosen})
    for name, value in chosen.items():
        carried[name] = value
    return f"{reverse('intake')}?{carried.urlencode()}"


def _fragment_or_page(request, fragment: str, page: str, context: dict):
    response = render(request, fragment if request.htmx else page, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@practice_required(Action.INTAKE)
@require_GET
def patient_search(request):
    query = _typed(request.GET, "patient_q", "q").strip()
    patients = search_patients(query)
    if patients:
        # One entry per answered keystroke that showed patients; the words stay out.
        record(
            request,
            AuditAction.LISTED,
            object_type="patient",
            count=len(patients),
            summary="Intake patient search",
        )
    context = {"q": query, "patients": patients}
    if not request.htmx:
        context["results"] = [
            (p, _carry_back(request.GET, patient=p.pk, **dict.fromkeys(NEW_PATIENT_FIELDS, "")))
            for p in patients
        ]
        context["back"] = _carry_back(request.GET)
    return _fragment_or_page(
        request,
        "referrals/intake/_patient_results.html",
        "referrals/intake/patient_search.html",
        context,
    )


@practice_required(Action.INTAKE)
@require_GET
def office_search(request):
    query = _typed(request.GET, "office_q", "q").strip()
    matches = search_offices(query)
    context = {"q": query, "matches": matches}
    if not request.htmx:
        context["results"] = [
            (
                m,
                _carry_back(
                    request.GET,
                    referring_office=m.office.pk,
                    referring_provider=m.matched_provider.pk if m.matched_provider else "",
                ),
            )
            for m in matches
        ]
        context["back"] = _carry_back(request.GET)
    return _fragment_or_page(
        request,
        "referrals/intake/_office_results.html",
        "referrals/intake/office_search.html",
        context,
    )


@practice_required(Action.INTAKE)
@require_GET
def duplicate_check(request):
    """The live 'may already be our patient' warning while a new patient is typed in."""
    duplicates = likely_duplicates(
        first_name=_typed(request.GET, "first_name"),
        last_name=_typed(request.GET, "last_name"),
        date_of_birth=parse_date_of_birth(request.GET.get("date_of_birth", "")),
        phone=_typed(request.GET, "phone"),
    )
    if duplicates:
        record(
            request,
            AuditAction.LISTED,
            object_type="patient",
            count=len(duplicates),
            summary="Intake duplicate-patient warning",
        )
    if not request.htmx:
        cleared = dict.fromkeys(NEW_PATIENT_FIELDS, "")
        for duplicate in duplicates:
            duplicate.use_url = _carry_back(request.GET, patient=duplicate.patient.pk, **cleared)
    context = {"duplicates": duplicates, "back": _carry_back(request.GET)}
    return _fragment_or_page(
        request,
        "referrals/intake/_duplicates.html",
        "referrals/intake/duplicates.html",
        context,
    )


urlpatterns = [
    path("intake/", intake, name="intake"),
    path("intake/patients/", patient_search, name="intake_patient_search"),
    path("intake/offices/", office_search, name="intake_office_search"),
    path("intake/duplicates/", duplicate_check, name="intake_duplicate_check"),
]
