"""Property tests of the timeline's steps (referrals/views/timeline.py): from any point of a
case's journey, any step posted with anything in its fields is either recorded whole (one
event, the case's status moved) or refused with the case exactly as it was."""

import datetime as dt
from collections import Counter

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from practices.models import Role
from practices.scoping import practice_scope
from referrals import services, workflow
from referrals.choices import CaseType, SourceType
from referrals.choices import MilestoneKind as K
from referrals.models import MilestoneEvent, Referral

from .conftest import _member
from .factories import PatientFactory
from .property_support import AUDIT_TABLE, changed_tables, rolled_back, snapshot, text_like

RECEIVED_ON = dt.date(2024, 1, 8)

# What each step needs to be recorded when the journey is set up.
SETUP = {
    K.CONSULT_SCHEDULED: {"scheduled_for": dt.datetime(2024, 2, 1, 9, tzinfo=dt.UTC)},
    K.CONSULT_COMPLETED: {"findings": "Impacted #17"},
    K.TREATMENT_DECLINED: {"reason": "Cost"},
    K.SURGERY_SCHEDULED: {
        "scheduled_for": dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC),
        "procedure": "Extraction",
    },
    K.SURGERY_COMPLETED: {"procedure": "Extraction"},
    K.POSTOP_VISIT: {"note": "Healing well"},
    K.CANCELLED: {"reason": "Moved away"},
}

# A valid POST of each step's form.
VALID_POST = {
    "note": "Called the patient",
    "occurred_at": "",
    "scheduled_for": "2024-06-03T10:30",
    "findings": "Impacted #17 and #32",
    "recommendation": "Extraction under IV sedation",
    "procedure": "Extraction of #17 and #32",
    "reason": "Cost",
    "production": "1850.00",
}

datetime_text = st.one_of(
    st.sampled_from(
        [
            "",
            "9999-12-31T23:59",
            "0001-01-01T00:00",
            "2020-02-30T10:00",
            "2024-03-10T02:30",  # a time that does not exist in New York (clocks go forward)
            "2024-11-03T01:30",  # a time that happens twice there
            "2023-12-31T23:59",  # before the referral was received
            "2024-01-07T00:00",
            "2099-01-01T00:00",
            "2024-06-03 10:30:00",
            "06/03/2024 10:30",
            "2024-06-03",
            "T",
        ]
    ),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M") if d.year >= 1000 else d.isoformat()
    ),
    text_like(),
)
amount_text = st.one_of(
    st.sampled_from(
        ["", "0", "-1", "1e30", "1E+999999", "NaN", "Infinity", "-0", "99999999.99", "100000000"]
        + ["1,850.00", "$1850", "12.345", "１２", "0x10", ".5", "5."]
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    text_like(),
)
ODD = {
    "note": text_like(),
    "occurred_at": datetime_text,
    "scheduled_for": datetime_text,
    "findings": text_like(),
    "recommendation": text_like(),
    "procedure": text_like(),
    "reason": text_like(),
    "production": amount_text,
}


def posts():
    changes = st.lists(st.sampled_from(sorted(ODD)), max_size=3, unique=True).flatmap(
        lambda fields: st.fixed_dictionaries({f: ODD[f] for f in fields})
    )
    return changes.map(lambda c: {**VALID_POST, **c})


@pytest.fixture
def case(practice):
    patient = PatientFactory(practice=practice)
    with practice_scope(practice):
        return services.create_referral(
            practice,
            services.ReferralInput(
                patient=patient,
                source_type=SourceType.SELF,
                case_type=CaseType.THIRD_MOLARS,
                received_on=RECEIVED_ON,
            ),
        )


def _walk(practice, referral, kinds) -> None:
    """Record the allowed ones of ``kinds`` in order: a case somewhere on its journey."""
    with practice_scope(practice):
        for kind in kinds:
            if kind in services.allowed_next_steps(referral):
                services.record_milestone(referral, kind, **SETUP.get(kind, {}))


def _events(referral):
    with scopes_disabled():
        return list(MilestoneEvent.objects.filter(referral=referral).order_by("id"))


@pytest.mark.django_db
def test_any_step_is_recorded_whole_or_the_case_is_left_as_it_was(practice, case):
    clients = {}
    for role in (Role.ADMIN, Role.FRONT_DESK):
        clients[role] = Client()
        clients[role].force_login(_member(practice, role, f"{role}@steps.test"))
    step_kinds = [k for k in K.values if k != K.RECEIVED]
    outcomes = Counter()

    @given(
        journey=st.lists(st.sampled_from(step_kinds), max_size=6),
        role=st.sampled_from(sorted(clients)),
        htmx=st.booleans(),
        data=posts(),
        draw=st.data(),
    )
    def check(journey, role, htmx, data, draw):
        with rolled_back():
            _walk(practice, case, journey)
            with practice_scope(practice):
                allowed = services.allowed_next_steps(case)
            # Mostly a step the case can take now (the form's checks are reached), else any.
            anything = st.sampled_from([*K.values, "nonsense"])
            kind = draw.draw(st.one_of(st.sampled_from(allowed), anything) if allowed else anything)
            before, events = snapshot(exclude=(AUDIT_TABLE,)), _events(case)
            with scopes_disabled():
                state = workflow.replay(e.kind for e in events if not e.is_void)
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = clients[role].post(f"/cases/{case.pk}/steps/{kind}/", data, **headers)
            assert response.status_code in (200, 302, 403, 404, 409, 422)
            after = _events(case)
            outcomes["recorded" if len(after) > len(events) else "refused"] += 1
            if len(after) == len(events) + 1:
                recorded = after[-1]
                assert recorded.kind == kind
                with scopes_disabled():
                    status = Referral.objects.get(pk=case.pk).status
                assert status == workflow.apply(state, kind).status
                assert recorded.occurred_at <= timezone.now() + dt.timedelta(minutes=10)
            else:
                assert changed_tables(before, snapshot(exclude=(AUDIT_TABLE,))) == []
                if response.status_code == 422:
                    form = response.context["form"]
                    assert form.errors and set(form.errors) <= set(form.fields), form.errors

    check()
    assert outcomes["recorded"] and outcomes["refused"], outcomes


# -- examples the properties found -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["9999-12-31T23:59", "1899-06-30T10:00"])
def test_an_appointment_in_a_year_far_off_is_refused_naming_the_field(practice, case, when):
    """9999-12-31 23:59 in New York was stored as year 10000 in UTC: PostgreSQL kept it, and
    every later page of the case answered 500 (the value cannot be read back)."""
    client = Client()
    client.force_login(_member(practice, Role.ADMIN, "admin@steps.test"))
    response = client.post(
        f"/cases/{case.pk}/steps/{K.CONSULT_SCHEDULED}/", {"scheduled_for": when}
    )
    assert response.status_code == 422
    assert response.context["form"].errors == {
        "scheduled_for": ["Check the year of the appointment."]
    }
    assert [e.kind for e in _events(case)] == [K.RECEIVED]
    assert client.get(f"/cases/{case.pk}/").status_code == 200
