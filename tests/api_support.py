"""Helpers for the API tests (tests/test_api_*.py): keys, clients and referrals."""

import datetime as dt

from rest_framework.test import APIClient

from practices.api_keys import create_api_key
from practices.scoping import practice_scope
from referrals.choices import CaseType, SourceType
from referrals.services import ReferralInput, create_referral

from .factories import OfficeFactory, PatientFactory, ProviderFactory


def key_for(practice, name="PMS bridge") -> str:
    with practice_scope(practice):
        return create_api_key(practice, name).raw_key


def client_with(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def intake(practice, *, received_on: dt.date, office=None, provider=None, **extra):
    """A referral created the way intake creates one (with its 'received' event)."""
    with practice_scope(practice):
        office = office or OfficeFactory(practice=practice)
        provider = provider or ProviderFactory(practice=practice, office=office)
        patient = extra.pop("patient", None) or PatientFactory(practice=practice)
        data = ReferralInput(
            patient=patient,
            source_type=extra.pop("source_type", SourceType.DOCTOR),
            case_type=extra.pop("case_type", CaseType.THIRD_MOLARS),
            received_on=received_on,
            referring_office=office,
            referring_provider=provider,
            **extra,
        )
        return create_referral(practice, data)
