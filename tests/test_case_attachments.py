"""The files a GP sent with an online referral are on the case page, for staff only."""

from practices.scoping import practice_scope
from referrals.models import Referral

from .online_referral_helpers import image_bytes, make_submission, pdf_bytes, upload


def test_the_case_page_lists_the_files_sent_with_the_referral(client, practice, front_desk_user):
    online = make_submission(
        practice, files=[upload("pano.png", image_bytes()), upload("notes.pdf", pdf_bytes())]
    )
    client.force_login(front_desk_user)
    client.post(
        f"/inbox/{online.pk}/accept/",
        {"office": "new", "provider": "new", "patient": "new", "chart_number": ""},
    )
    with practice_scope(practice):
        referral = Referral.objects.get()
        attachments = {a.original_name: a.pk for a in referral.attachments.all()}
    page = client.get(f"/cases/{referral.pk}/").content.decode()
    assert "Radiographs and documents" in page
    for name, pk in attachments.items():
        assert name in page and f"/attachments/{pk}/" in page


def test_a_case_without_files_says_so(client, practice, admin_user):
    from .factories import ReferralFactory

    with practice_scope(practice):
        referral = ReferralFactory(practice=practice)
    client.force_login(admin_user)
    assert "No files were sent." in client.get(f"/cases/{referral.pk}/").content.decode()
