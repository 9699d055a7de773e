"""Property test of the staff search boxes outside intake (the referrers list, the case
worklist): whatever is typed, the page answers 200."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .factories import OfficeFactory
from .property_support import date_text, text_like


@pytest.mark.django_db
def test_the_search_boxes_answer_anything_typed(admin_client, practice):
    OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139")

    @given(
        url=st.sampled_from(["/referrers/", "/cases/"]),
        query=st.one_of(text_like("Maple", "02139", "555"), date_text()),
        htmx=st.booleans(),
    )
    def check(url, query, htmx):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        assert admin_client.get(url, {"q": query}, **headers).status_code == 200

    check()


@pytest.mark.django_db
def test_a_nul_in_the_referrers_search_is_ignored(admin_client, practice):
    """PostgreSQL refuses a NUL in text: the referrers list answered 500."""
    OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139")
    response = admin_client.get("/referrers/", {"q": "Ma\x00ple"})
    assert response.status_code == 200
    assert "Maple Dental" in response.content.decode()
