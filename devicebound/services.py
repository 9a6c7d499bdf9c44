"""Device-bound sessions (DBSC): offer, register, refresh, and the short-lived bound cookie.

A session whose browser registered a key keeps working only while its bound cookie is
valid; the browser renews that cookie by signing a fresh server challenge with the key,
which never leaves the device. A copied session cookie alone is refused for such a session.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts import vocabulary
from accounts.authentication import REGISTRY_KEY
from devicebound import proofs
from devicebound.models import DeviceBinding

REGISTRATION_KEY = "_dbsc_registration"  # [challenge, expiry epoch], in the session until used
BOUND_KEY = "_dbsc_binding"  # the DeviceBinding id, once the browser registered
LOGIN_MARK = "_dbsc_logged_in"  # set on the request by the user_logged_in receiver
COOKIE_SALT = "devicebound.cookie"
CHALLENGE_AGE = 120  # seconds; the spec asks for short-lived challenges
REGISTRATION_HEADER = "Secure-Session-Registration"
CHALLENGE_HEADER = "Secure-Session-Challenge"


class BindingRefused(Exception):
    """A registration or refresh that must not succeed; `status` and `code` say why."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def cookie_name() -> str:
    return "__Host-dbsc" if settings.SECURE_COOKIES else "dbsc"


def mark_login(*, request: HttpRequest) -> None:
    setattr(request, LOGIN_MARK, True)


def offer_binding(*, request: HttpRequest, response: HttpResponse) -> None:
    """Ask the browser to bind the session that just logged in (`Secure-Session-Registration`).

    Only over HTTPS (browsers ignore the header elsewhere), only for a registered session, and
    only where the server holds the session (`bindable`). The challenge lives in the session,
    which the login writes anyway: a browser that does not take part costs nothing more.
    """
    if not request.is_secure() or request.session.get(REGISTRY_KEY) is None or response.status_code >= 400:
        return
    if not bindable():
        return
    challenge = secrets.token_urlsafe(32)
    request.session[REGISTRATION_KEY] = [challenge, time.time() + CHALLENGE_AGE]
    algorithms = " ".join(proofs.ALGORITHMS)
    path = reverse("dbsc_register")
    response[REGISTRATION_HEADER] = f'({algorithms});path="{path}";challenge="{challenge}"'


def register_binding(*, request: HttpRequest, proof: str | None) -> DeviceBinding:
    """Bind this session to the key that signed `proof` over this session's registration challenge."""
    registry_id = request.session.get(REGISTRY_KEY)
    if registry_id is None:
        raise BindingRefused(401, "not_logged_in", "Log in first: only a logged-in session can be bound.")
    if not bindable():
        raise BindingRefused(400, "not_bindable", "This site's sessions live in signed cookies: none can be bound.")
    if proof is None:
        raise BindingRefused(400, "proof_missing", "Send the proof in Secure-Session-Response.")
    algorithm, jwk, jti = _checked(proofs.check_registration, proof)
    issued = request.session.get(REGISTRATION_KEY)
    if not issued or not secrets.compare_digest(str(issued[0]), jti) or issued[1] < time.time():
        raise BindingRefused(400, "challenge_invalid", "The proof answers no live registration challenge.")
    del request.session[REGISTRATION_KEY]  # single use
    now = timezone.now()
    try:
        with transaction.atomic():
            binding = DeviceBinding.objects.create(
                session_id=registry_id,
                algorithm=algorithm,
                public_jwk=jwk,
                thumbprint=proofs.thumbprint(jwk),
                created_at=now,
                refreshed_at=now,
            )
            # The session's flag is what every request checks: it is saved before the row
            # commits, so a session store that cannot take it leaves no binding behind (one the
            # flag never reached would be bound but not enforced, and could not be bound again).
            request.session[BOUND_KEY] = str(binding.pk)
            request.session.save()
    except IntegrityError as error:  # a second registration of the same session (a replay, or a race)
        raise BindingRefused(409, "already_bound", "This session is already bound to a key.") from error
    return binding


def find_binding(*, request: HttpRequest, session_id: str | None) -> DeviceBinding:
    """Return the binding named by `Sec-Secure-Session-Id`, which must be this session's."""
    registry_id = request.session.get(REGISTRY_KEY)
    if session_id is None:
        raise BindingRefused(400, "session_id_missing", "Send the session identifier in Sec-Secure-Session-Id.")
    binding = DeviceBinding.objects.filter(pk=_uuid(session_id)).first() if _uuid(session_id) else None
    if registry_id is None or binding is None or str(binding.session_id) != str(registry_id):
        raise BindingRefused(401, "session_unknown", "No bound session of this login has that identifier.")
    return binding


def issue_refresh_challenge(*, binding: DeviceBinding) -> str:
    """Replace the binding's outstanding challenge with a new one; return it."""
    challenge = secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(seconds=CHALLENGE_AGE)
    DeviceBinding.objects.filter(pk=binding.pk).update(challenge=challenge, challenge_expires_at=expires)
    return challenge


def refresh_binding(*, binding: DeviceBinding, proof: str) -> None:
    """Accept a refresh proof: signed by the stored key over the live challenge, which it uses up."""
    jti = _checked(proofs.check_refresh, proof, algorithm=binding.algorithm, jwk=binding.public_jwk)
    now = timezone.now()
    consumed = DeviceBinding.objects.filter(pk=binding.pk, challenge=jti, challenge_expires_at__gt=now).update(
        challenge="", challenge_expires_at=None, refreshed_at=now
    )
    if jti == "" or consumed != 1:  # unknown, used or expired: the browser may retry with a new one
        raise BindingRefused(403, "challenge_invalid", "The proof answers no live challenge of this session.")


def session_config(*, request: HttpRequest, binding: DeviceBinding) -> dict:
    """The DBSC session instructions (spec: JSON Session Instruction Format)."""
    attributes = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if settings.SECURE_COOKIES else "")
    return {
        "session_identifier": str(binding.pk),
        "refresh_url": reverse("dbsc_refresh"),
        "scope": {"origin": f"{request.scheme}://{request.get_host()}", "include_site": False},
        "credentials": [{"type": "cookie", "name": cookie_name(), "attributes": attributes}],
        "allowed_refresh_initiators": [],
    }


def set_bound_cookie(*, response: HttpResponse, binding: DeviceBinding) -> None:
    """Set the bound cookie: the registry id and an expiry, signed; never the session key."""
    age = settings.DBSC_COOKIE_AGE
    value = signing.dumps({"sid": str(binding.session_id), "exp": int(time.time() + age)}, salt=COOKIE_SALT)
    response.set_cookie(
        cookie_name(), value, max_age=age, path="/", secure=settings.SECURE_COOKIES, httponly=True, samesite="Lax"
    )


def is_bound(*, request: HttpRequest) -> bool:
    """Whether this request's session is device-bound.

    The session says so (no query): only sessions the server holds are ever bound (`bindable`).
    """
    return request.session.get(REGISTRY_KEY) is not None and request.session.get(BOUND_KEY) is not None


def bindable() -> bool:
    """Whether this site's sessions can be bound: only where the server holds them.

    A signed-cookie session is the whole session in the cookie: an older copy of it, taken
    before the binding, would not say it is bound, and only a query on every request could
    tell. Such sessions cannot be revoked by the server either; they are not offered binding.
    """
    return vocabulary.session_engine(settings.SESSION_BACKEND).revocable


def bound_cookie_valid(*, request: HttpRequest) -> bool:
    """Whether the request carries an unexpired bound cookie, signed here, for this session."""
    raw = request.COOKIES.get(cookie_name())
    if not raw:
        return False
    try:
        value = signing.loads(raw, salt=COOKIE_SALT)
    except signing.BadSignature:
        return False
    registry_id = request.session.get(REGISTRY_KEY)
    return (
        isinstance(value, dict)
        and registry_id is not None
        and value.get("sid") == str(registry_id)
        and isinstance(value.get("exp"), int)
        and value["exp"] > time.time()
    )


def refuses(*, request: HttpRequest) -> bool:
    """Whether the session must count as not authenticated: bound, without its bound cookie.

    A valid bound cookie on a session that lost its flag (a concurrent request saved the
    session over the registration's write) puts the flag back.
    """
    valid = bound_cookie_valid(request=request)
    if valid and request.session.get(BOUND_KEY) is None:
        binding = DeviceBinding.objects.filter(session_id=request.session[REGISTRY_KEY]).values_list("pk", flat=True)
        if binding:
            request.session[BOUND_KEY] = str(binding[0])
    return not valid and is_bound(request=request)


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _checked(check, proof: str, **kwargs):
    try:
        return check(proof, **kwargs)
    except proofs.ProofError as error:
        raise BindingRefused(400, "proof_invalid", str(error)) from error
