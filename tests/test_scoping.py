import pytest
from django_scopes import ScopeError

from practices.scoping import practice_scope
from referrals.models import MilestoneEvent, Patient, Referral, ReferringOffice, ReferringProvider

from .factories import OfficeFactory


@pytest.mark.parametrize(
    "model", [ReferringOffice, ReferringProvider, Patient, Referral, MilestoneEvent]
)
def test_a_tenant_query_outside_a_practice_scope_raises(db, model):
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(pk=1).exists()


def test_a_scope_sees_only_its_own_practice(practice, other_practice):
    ours = OfficeFactory(practice=practice)
    theirs = OfficeFactory(practice=other_practice)
    with practice_scope(practice):
        assert list(ReferringOffice.objects.all()) == [ours]
    with practice_scope(other_practice):
        assert list(ReferringOffice.objects.all()) == [theirs]


def test_a_missing_practice_never_widens_the_scope():
    with pytest.raises(ValueError), practice_scope(None):
        pass
