"""Test data factories; the only place tests build model instances."""

import base64
import hashlib
import hmac
import json

import factory
from django.utils import timezone

from accounts.models import AuditEvent, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda user: user.username.capitalize())
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    kind = AuditEvent.Kind.LOGIN
    at = factory.LazyFunction(timezone.now)
    user = factory.SubFactory(UserFactory)


def _segment(data: dict) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")


def hmac_token(header: dict, claims: dict, secret: bytes) -> str:
    """An HS256 token signed with any bytes as the secret, a public key's PEM included
    (PyJWT refuses to do that: this is the key-confusion attack, CVE-2022-29217)."""
    signing_input = _segment(header) + b"." + _segment(claims)
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


def unsigned_token(claims: dict, **header) -> str:
    """An `alg: none` token (RFC 7519 6.1): no signature at all."""
    return (_segment({"alg": "none", "typ": "JWT", **header}) + b"." + _segment(claims) + b".").decode()
