"""The online referral: a public form per practice for GP offices (no login), and the
front desk's inbox where each submission is matched and accepted as a case, or rejected."""

import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from practices.access import Action
from practices.audit import AuditAction, record
from practices.models import Practice
from practices.permissions import practice_required
from practices.rate_limits import hit, too_many_requests
from practices.scoping import practice_scope

from .. import online_intake
from ..choices import OnlineReferralStatus, Urgency
from ..forms.online import AcceptForm, OnlineReferralForm, RejectForm
from ..models import OnlineReferral
from ..uploads import MAX_ATTACHMENTS

logger = logging.getLogger(__name__)

# Every member of the practice may work the inbox (Action.ONLINE_INBOX): in a small practice
# anyone answers it.
THANKS_SESSION_KEY = "online_referral_thanks"


# --- public ---------------------------------------------------------------------------


def public_form(request, practice_slug):
    """The practice's referral form. The visitor is not logged in, so the view looks the
    practice up by its slug and enters its scope itself."""
    practice = get_object_or_404(Practice, slug=practice_slug)
    with practice_scope(practice), timezone.override(practice.time_zone):
        if request.method != "POST":
            form = OnlineReferralForm()
        # Per client address every POST counts (a bot's and a mistaken one too): a GP
        # office sends a handful a day, a script hundreds a minute (RATE_LIMITS).
        elif (wait := hit(request, "online_referral")) is not None:
            logger.warning("online referral rate limit hit practice=%s", practice.pk)
            return too_many_requests(
                request,
                retry_after=wait,
                template="referrals/online/rate_limited.html",
                context={"practice": practice},
            )
        else:
            form = OnlineReferralForm(request.POST, request.FILES)
            if form.is_bot:
                # Looks like success to the bot; nothing is stored.
                logger.info("online referral honeypot filled practice=%s", practice.pk)
                _remember_thanks(request, practice, None, form.data)
                return redirect("online_referral_thanks", practice.slug)
            if form.is_valid():
                online = online_intake.submit(practice, form.cleaned_data, form.checked_files)
                # Who sent it is not known (no login): the address and browser are.
                record(
                    request,
                    AuditAction.CREATED,
                    obj=online,
                    practice=practice,
                    summary="Online referral form submitted",
                )
                _remember_thanks(request, practice, online, form.cleaned_data)
                return redirect("online_referral_thanks", practice.slug)
        context = {
            "practice": practice,
            "form": form,
            "max_files": MAX_ATTACHMENTS,
            "promise": online_intake.contact_promise(practice),
            # Browsers cannot refill file inputs: say so when the form comes back.
            "files_dropped": bool(request.FILES) and form.is_bound,
        }
        return render(request, "referrals/online/form.html", context)


def _initials(first: str, last: str) -> str:
    return "".join(f"{part.strip()[:1].upper()}." for part in (first, last) if part.strip())


def _remember_thanks(request, practice, online, data) -> None:
    # Only what the confirmation shows: the doctor's name and the patient's initials.
    urgency = data.get("urgency") or Urgency.ROUTINE
    promise = online_intake.contact_promise(practice)  # a bot's data may hold any urgency
    request.session[THANKS_SESSION_KEY] = {
        "practice_slug": practice.slug,
        "reference": online_intake.reference_of(online) if online else "",
        "doctor": str(data.get("doctor_last_name", "")).strip()[:100],
        "initials": _initials(
            str(data.get("patient_first_name", "")), str(data.get("patient_last_name", ""))
        ),
        "days": promise.get(urgency, promise[Urgency.ROUTINE]),
    }


def public_thanks(request, practice_slug):
    practice = get_object_or_404(Practice, slug=practice_slug)
    thanks = request.session.get(THANKS_SESSION_KEY)
    if not thanks or thanks.get("practice_slug") != practice.slug:
        return redirect("online_referral_form", practice.slug)
    return render(request, "referrals/online/thanks.html", {"practice": practice, **thanks})


# --- front desk inbox -------------------------------------------------------------------


@practice_required(Action.ONLINE_INBOX)
def inbox(request):
    handled = request.GET.get("show") == "handled"
    items = OnlineReferral.objects.annotate(attachment_count=Count("attachments"))
    if handled:
        items = (
            items.exclude(status=OnlineReferralStatus.PENDING)
            .select_related("reviewed_by")
            .order_by("-reviewed_at")[:50]
        )
    else:
        # The urgent ones first, then first come, first served.
        urgency_rank = Case(
            When(urgency=Urgency.URGENT, then=Value(0)),
            When(urgency=Urgency.SOON, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        items = items.filter(status=OnlineReferralStatus.PENDING).order_by(
            urgency_rank, "created_at"
        )
    items = list(items)
    record(
        request,
        AuditAction.LISTED,
        object_type="onlinereferral",
        count=len(items),
        summary="Online referral inbox" + (": handled" if handled else ": waiting"),
    )
    context = {
        "items": items,
        "handled": handled,
        "form_url": request.build_absolute_uri(
            reverse("online_referral_form", args=[request.practice.slug])
        ),
    }
    return render(request, "referrals/online/inbox.html", context)


def _item_context(online, accept_form=None, reject_form=None):
    suggestions = accept_form.suggestions if accept_form else online_intake.suggest_matches(online)
    return {
        "online": online,
        "reference": online_intake.reference_of(online),
        "attachments": list(online.attachments.all()),
        "accept_form": accept_form or AcceptForm(online=online, suggestions=suggestions),
        "reject_form": reject_form or RejectForm(),
        "suggestions": suggestions,
        "is_pending": online.status == OnlineReferralStatus.PENDING,
    }


def _get_item(pk):
    return get_object_or_404(
        OnlineReferral.objects.select_related("practice", "reviewed_by", "referral"), pk=pk
    )


@practice_required(Action.ONLINE_INBOX)
def inbox_item(request, pk):
    online = _get_item(pk)
    record(
        request,
        AuditAction.VIEWED,
        obj=online,
        patient=online.referral.patient_id if online.referral else None,
    )
    return render(request, "referrals/online/item.html", _item_context(online))


@require_POST
@practice_required(Action.ONLINE_INBOX)
def accept(request, pk):
    online = _get_item(pk)
    form = AcceptForm(
        request.POST, online=online, suggestions=online_intake.suggest_matches(online)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            referral = online_intake.accept(
                online,
                office=data["office"],
                provider=data["provider"],
                patient=data["patient"],
                chart_number=data["chart_number"],
                by=request.user,
            )
        except ValidationError as exc:
            if _get_item(pk).status != OnlineReferralStatus.PENDING:
                # Someone else handled it meanwhile: show them what happened.
                messages.error(request, " ".join(exc.messages))
                return redirect("online_inbox_item", pk)
            form.add_error(None, exc.messages)
        else:
            record(
                request,
                AuditAction.CREATED,
                obj=referral,
                summary=f"Confirmed online referral #{online.pk} as a case",
            )
            messages.success(
                request,
                f"Online referral {online_intake.reference_of(online)} is now case #{referral.pk}.",
            )
            return redirect("referral_detail", referral.pk)
    return render(request, "referrals/online/item.html", _item_context(online, accept_form=form))


@require_POST
@practice_required(Action.ONLINE_INBOX)
def reject(request, pk):
    online = _get_item(pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            online_intake.reject(online, reason=form.cleaned_data["reject_reason"], by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("online_inbox_item", pk)
        else:
            record(request, AuditAction.CHANGED, obj=online, summary="Rejected online referral")
            messages.success(
                request, f"Online referral {online_intake.reference_of(online)} was rejected."
            )
            return redirect("online_inbox")
    return render(request, "referrals/online/item.html", _item_context(online, reject_form=form))


urlpatterns = [
    path("refer/<slug:practice_slug>/", public_form, name="online_referral_form"),
    path("refer/<slug:practice_slug>/thanks/", public_thanks, name="online_referral_thanks"),
    path("inbox/", inbox, name="online_inbox"),
    path("inbox/<int:pk>/", inbox_item, name="online_inbox_item"),
    path("inbox/<int:pk>/accept/", accept, name="online_inbox_accept"),
    path("inbox/<int:pk>/reject/", reject, name="online_inbox_reject"),
]
