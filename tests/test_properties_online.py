"""Property tests of the public online referral form (referrals/views/online.py): whatever a
GP office (or a stranger) sends, the answer is the form with each error on its field and
nothing stored, not one row and not one file, or the submission stored whole with every
file it carried."""

import datetime as dt
from collections import Counter

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from referrals.choices import CaseType, Urgency
from referrals.models import Attachment, OnlineReferral

from .online_referral_helpers import (
    form_data,
    image_bytes,
    pdf_bytes,
    png_claiming,
    stored_files,
)
from .property_support import changed_tables, date_text, rolled_back, snapshot, text_like

URL = "/refer/lakeside/"

names = st.text(
    st.characters(categories=("L", "M"), include_characters="'- "), min_size=1, max_size=30
).filter(lambda s: s.strip())

ODD = {
    "office_name": text_like(),
    "office_phone": text_like("555-010-2030", "+1 (555) 010-2030 x12", "5550102030"),
    "office_zip": text_like("02139-1234", "2139", "021390"),
    "office_email": text_like("x@y", "front@maple.example", "a" * 250 + "@b.example"),
    "doctor_first_name": text_like(),
    "doctor_last_name": text_like(),
    "doctor_email": text_like("dr@maple.example"),
    "patient_first_name": text_like(),
    "patient_last_name": text_like(),
    "patient_date_of_birth": date_text(("%Y-%m-%d", "%m/%d/%Y")),
    "patient_phone": text_like("555-010-7788"),
    "patient_email": text_like("pat@example.test"),
    "case_type": text_like(*CaseType.values),
    "urgency": text_like(*Urgency.values),
    "reason": text_like(),
    "leave_blank": text_like(""),
}

FILES = {
    "scan.png": lambda: image_bytes("PNG"),
    "xray.jpg": lambda: image_bytes("JPEG"),
    "letter.pdf": pdf_bytes,
    "bomb.png": lambda: png_claiming(60000, 60000),
    "empty.pdf": lambda: b"",
    "fake.pdf": lambda: b"%PDF-1.4\nnot really",
    "noise.gif": lambda: b"GIF89a\x00\x01\x02",
}


def _upload(pair):
    name, content = pair
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _a_browser_sends(name: str) -> bool:
    """Whether a file of this name reaches the form at all: Django's upload parser drops a
    file whose name is empty once folders and unprintable characters are taken out (no
    file system names a file like that, so no browser sends one)."""
    return bool(name.strip()) and MultiPartParser.sanitize_file_name(None, name) is not None


upload = st.one_of(
    st.sampled_from(sorted(FILES)).map(lambda name: (name, FILES[name]())),
    st.tuples(
        text_like("a.png", "../../etc/passwd", "C:\\x\\y.pdf").filter(_a_browser_sends),
        st.binary(max_size=200),
    ),
).map(_upload)


def _valid():
    return st.fixed_dictionaries(
        {
            "office_name": names,
            "doctor_first_name": names,
            "doctor_last_name": names,
            "patient_first_name": names,
            "patient_last_name": names,
            "patient_date_of_birth": st.dates(
                min_value=dt.date(1920, 1, 1), max_value=dt.date(2020, 1, 1)
            ).map(dt.date.isoformat),
            "case_type": st.sampled_from(CaseType.values),
            "urgency": st.sampled_from(Urgency.values),
        }
    ).map(lambda values: form_data(**values))


def posts():
    changes = st.lists(st.sampled_from(sorted(ODD)), max_size=3, unique=True).flatmap(
        lambda fields: st.fixed_dictionaries({f: ODD[f] for f in fields})
    )
    files = st.lists(upload, max_size=6)
    return st.tuples(_valid(), changes, files).map(
        lambda t: {**t[0], **t[1], **({"attachments": t[2]} if t[2] else {})}
    )


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.django_db
def test_any_submission_is_stored_whole_or_not_at_all(practice, media):
    client = Client()
    outcomes = Counter()

    @given(data=posts())
    def check(data):
        # The form's rate limit counts in the shared cache: each example is a new sender.
        cache.clear()
        with rolled_back():
            before, files_before = snapshot(), stored_files(media)
            sent = len(data.get("attachments", []))
            response = client.post(URL, data)
            # 400: Django refused the request itself (a file name of thousands of characters
            # overflows the multipart header limit) before the view saw it.
            assert response.status_code in (200, 302, 400)
            outcomes[response.status_code] += 1
            with scopes_disabled():
                stored = list(OnlineReferral.objects.filter(practice=practice))
                attachments = Attachment.objects.filter(practice=practice).count()
            if response.status_code == 200:
                form = response.context["form"]
                assert form.errors, "the form came back without saying why"
                assert set(form.errors) <= set(form.fields), form.errors
            if response.status_code != 302 or data.get("leave_blank", "").strip():
                assert changed_tables(before, snapshot()) == []
                assert stored_files(media) == files_before
            else:
                assert len(stored) == 1
                assert attachments == sent
                assert len(stored_files(media)) == len(files_before) + sent
            for path in set(stored_files(media)) - set(files_before):
                path.unlink()  # files are not rolled back with the rows

    check()
    assert outcomes[302] and outcomes[200], outcomes
