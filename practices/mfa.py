"""How allauth's two-factor app behaves here: secrets encrypted at rest, and no removing
the last second factor while the practice requires one.

allauth stores each TOTP key (and the seed of the recovery codes) in its ``Authenticator``
table and leaves their encryption to the project. They are encrypted with Fernet under a key
derived from ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` still decrypt, so the secret key can be
rotated): a copy of the database alone does not give anyone the codes.
"""

from __future__ import annotations

import base64
import hashlib

from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

from .two_factor import SECOND_FACTORS, two_factor_required


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"omsreferrals.mfa-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return _keys().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _keys().decrypt(encrypted_text.encode()).decode()

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Not the last second factor of someone the practice's policy covers."""
        if authenticator.type not in SECOND_FACTORS:
            return True
        request = context.request
        user = authenticator.user
        if not two_factor_required(
            getattr(request, "practice", None), getattr(request, "role", None), user
        ):
            return True
        others = Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exclude(
            pk=authenticator.pk
        )
        return others.exists()
