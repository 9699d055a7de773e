"""The API reads the API key's column of the role table: take an action out of it and the
key loses exactly that (the route matrix checks the column as it is)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import ReferrerSnapshot
from practices.access import API_KEY, GRANTS, Action
from practices.scoping import practice_scope
from referrals import services
from referrals.choices import MilestoneKind as K
from tests.api_support import client_with, intake, key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(practice):
    return client_with(key_for(practice))


def _without(monkeypatch, *actions: Action) -> None:
    monkeypatch.setitem(GRANTS, API_KEY, GRANTS[API_KEY] - set(actions))


def test_a_key_without_an_operations_action_is_refused(api, practice, monkeypatch):
    intake(practice, received_on=dt.date(2026, 3, 2))
    assert api.get("/api/v1/referrals/").status_code == 200
    _without(monkeypatch, Action.VIEW_CASES)
    response = api.get("/api/v1/referrals/")
    assert response.status_code == 403
    assert response.json() == {"detail": "An API key may not do this."}
    assert api.get("/api/v1/offices/").status_code == 200  # other operations unaffected


def test_a_key_without_clinical_steps_still_books_but_cannot_complete(api, practice, monkeypatch):
    referral = intake(practice, received_on=dt.date(2026, 3, 2))
    _without(monkeypatch, Action.RECORD_CLINICAL)
    url = f"/api/v1/referrals/{referral.pk}/events/"
    booked = api.post(
        url, {"kind": K.CONSULT_SCHEDULED, "scheduled_for": "2026-03-10T09:30:00"}, format="json"
    )
    assert booked.status_code == 201
    completed = api.post(
        url,
        {"kind": K.CONSULT_COMPLETED, "findings": "Impacted.", "recommendation": "Remove."},
        format="json",
    )
    assert completed.status_code == 403
    with practice_scope(practice):
        referral.refresh_from_db()
        assert referral.status == K.CONSULT_SCHEDULED


def test_money_fields_follow_the_keys_view_money(api, practice, monkeypatch):
    referral = intake(practice, received_on=dt.date(2026, 3, 2))
    with practice_scope(practice):
        soon = timezone.now() + dt.timedelta(days=7)
        services.record_milestone(referral, K.CONSULT_SCHEDULED, scheduled_for=soon)
        services.record_milestone(
            referral, K.CONSULT_COMPLETED, findings="Impacted.", recommendation="Remove."
        )
        services.record_milestone(referral, K.TREATMENT_ACCEPTED)
        services.record_milestone(
            referral, K.SURGERY_SCHEDULED, scheduled_for=soon, procedure="Extraction"
        )
        services.record_milestone(
            referral, K.SURGERY_COMPLETED, procedure="Extraction", production=Decimal("2400")
        )
        ReferrerSnapshot.objects.create(
            practice=practice,
            office=referral.referring_office,
            as_of=timezone.localdate(),
            status="declining",
            revenue_at_risk=Decimal("5400.00"),
        )
    events_url = f"/api/v1/referrals/{referral.pk}/events/"

    def money_shown():
        events = api.get(events_url).json()
        scores = api.get("/api/v1/referrer-scores/").json()["results"]
        return (
            any(e.get("production") == "2400.00" for e in events),
            scores[0].get("revenue_at_risk"),
        )

    assert money_shown() == (True, "5400.00")
    _without(monkeypatch, Action.VIEW_MONEY)
    assert money_shown() == (False, None)
