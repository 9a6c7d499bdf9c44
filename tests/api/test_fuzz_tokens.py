"""Hypothesis on the token and cookie parsing paths: InvalidToken or a token, never a crash.

Inputs are arbitrary text and bytes, real-looking tokens with characters changed, and
the claims we mint with some dropped or replaced by any JSON, signed with the real key
(so the checks after the signature run, which only a key holder can reach). Through the
test client, the Bearer header, the `access` cookie and the session cookie must never
give a 500 nor appear in an answer. Header and cookie values use the characters a real
server lets through (printable Latin-1; gunicorn answers control characters with a 400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from contextlib import suppress

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework_simplejwt.exceptions import InvalidToken

from api.tokens import parse_refresh_token, validate_access_token
from tests.factories import UserFactory

CANARY = "Zq8canaryX3"  # marks garbage tokens: no answer may contain it
PAGES = ["/api/me/", "/api/dashboard/", "/", "/cookies/"]
FUZZ = hypothesis_settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same inputs on every CI run; raise max_examples locally to explore
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CLIENT_FUZZ = hypothesis_settings(FUZZ, max_examples=100)

HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
ODD = st.one_of(st.integers(), st.integers(min_value=2**32, max_value=2**70), st.text(max_size=12), JSON)
ODD_HEADERS = st.fixed_dictionaries({}, optional={"kid": JSON, "jku": JSON, "x5u": JSON, "typ": JSON, "crit": JSON})
JOSE_HEADERS = st.integers(0, 3).flatmap(lambda n: ODD_HEADERS if n == 0 else st.just({}))  # now and then


def minted_claims(user_id: int, token_type: str = "access") -> dict:
    """The claims api.tokens mints, valid for an hour."""
    now = int(time.time())
    return {
        "token_type": token_type, "exp": now + 3600, "iat": now, "jti": uuid.uuid4().hex, "user_id": user_id,
        "username": "fuzzed", "iss": "authdemo", "aud": "authdemo-api", "fam": str(uuid.uuid4()), "auth_time": now,
    }  # fmt: skip


@st.composite
def claims(draw, user_id: int) -> dict:
    """Minted claims with one or two replaced by any JSON or dropped, plus extra ones."""
    payload = {**draw(st.dictionaries(st.text(max_size=10), JSON, max_size=2))}
    payload.update(minted_claims(user_id, draw(st.sampled_from(["access", "refresh"]))))
    for name in draw(st.lists(st.sampled_from(sorted(payload)), min_size=1, max_size=2, unique=True)):
        if draw(st.integers(0, 3)):
            payload[name] = draw(ODD)
        else:
            del payload[name]
    return payload


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(payload: dict, header: dict | None = None, key: str | None = None, digest=hashlib.sha256) -> str:
    """A compact JWS made by hand: PyJWT's encoder refuses the odd headers we want to send."""
    header = {"alg": "HS256", "typ": "JWT"} if header is None else header
    signing_input = f"{b64(header)}.{b64(payload)}"
    key = settings.SIMPLE_JWT["SIGNING_KEY"] if key is None else key
    mac = hmac.new(key.encode(), signing_input.encode(), digest).digest() if digest else b""
    return f"{signing_input}.{b64(mac)}"


@st.composite
def signed_tokens(draw, user_id: int) -> str:
    """Claims signed with the real key, mostly; sometimes another key or algorithm."""
    payload, extra_headers = draw(claims(user_id)), draw(JOSE_HEADERS)
    choices = [("HS256", None, hashlib.sha256)] * 6 + [
        ("HS512", None, hashlib.sha512),
        ("HS256", "another-key-" * 4, hashlib.sha256),
        ("none", "", None),
    ]
    algorithm, key, digest = draw(st.sampled_from(choices))
    return sign(payload, {"alg": algorithm, "typ": "JWT", **extra_headers}, key, digest)


@st.composite
def tampered_tokens(draw, user_id: int) -> str:
    """A signed token with a few characters replaced, dropped or added."""
    chars = list(draw(signed_tokens(user_id)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(chars)))
        chars[at : at + draw(st.integers(0, 2))] = draw(st.text(HEADER_CHARS, max_size=2))
    return "".join(chars)


def any_token(user_id: int) -> st.SearchStrategy:
    return st.text() | st.binary() | signed_tokens(user_id) | tampered_tokens(user_id)


def marked_garbage() -> st.SearchStrategy[str]:
    text = st.text(HEADER_CHARS, max_size=60)
    return st.tuples(text, text).map(lambda parts: f"{parts[0]}{CANARY}{parts[1]}")


@pytest.fixture
def fuzz_user(db):
    return UserFactory(username="fuzzed")


PARSERS = pytest.mark.parametrize("parse", [validate_access_token, parse_refresh_token], ids=["access", "refresh"])


@PARSERS
def test_token_parsing_raises_only_invalid_token(parse, fuzz_user):
    @given(raw=any_token(fuzz_user.pk))
    @FUZZ
    def run(raw):
        with suppress(InvalidToken):
            parse(raw)

    run()


# Found by the property above; kept as plain cases so CI always tries them.
ODD_SIGNED_CLAIMS = {
    "exp past year 9999": {"exp": 2**40},
    "exp past time_t": {"exp": 2**70},
    "user_id a string": {"user_id": "abc"},
    "user_id a list": {"user_id": [1]},
}


@PARSERS
@pytest.mark.parametrize("case", ODD_SIGNED_CLAIMS)
def test_signed_token_with_odd_claim_raises_only_invalid_token(parse, case, fuzz_user):
    token_type = "access" if parse is validate_access_token else "refresh"
    token = sign({**minted_claims(fuzz_user.pk, token_type), **ODD_SIGNED_CLAIMS[case]})
    with suppress(InvalidToken):
        parse(token)


def assert_no_500_nor_echo(client, secret: str, **extra) -> None:
    for path in PAGES:
        response = client.get(path, **extra)
        assert response.status_code < 500, (path, response.status_code)
        seen = response.content.decode("utf-8", "replace") + repr(sorted(response.items()))
        assert secret not in seen, f"{path} echoed the token"


def test_bearer_header_never_500_nor_echoed(client, fuzz_user):
    @given(token=marked_garbage() | signed_tokens(fuzz_user.pk), scheme=st.sampled_from(["Bearer", "bearer", "JWT"]))
    @CLIENT_FUZZ
    def run(token, scheme):
        assert_no_500_nor_echo(client, token, HTTP_AUTHORIZATION=f"{scheme} {token}")

    run()


def test_access_cookie_never_500_nor_echoed(client, fuzz_user):
    @given(token=marked_garbage() | signed_tokens(fuzz_user.pk))
    @CLIENT_FUZZ
    def run(token):
        assert_no_500_nor_echo(client, token, HTTP_COOKIE=f"{settings.JWT_ACCESS_COOKIE}={token}")

    run()


@pytest.mark.parametrize("case", ["no username", "user_id a string"])
def test_access_cookie_with_odd_signed_claims_never_500(client, fuzz_user, case):
    """Found by the property above: pages read the access cookie for the header's name."""
    payload = minted_claims(fuzz_user.pk)
    if case == "no username":
        del payload["username"]
    else:
        payload["user_id"] = "abc"
    assert_no_500_nor_echo(client, token := sign(payload), HTTP_COOKIE=f"{settings.JWT_ACCESS_COOKIE}={token}")


def test_session_cookie_never_500_nor_echoed(client, session_engine, fuzz_user):
    @given(value=marked_garbage())
    @CLIENT_FUZZ
    def run(value):
        assert_no_500_nor_echo(client, value, HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={value}")

    run()


# Signed refresh tokens whose claims pass the parser's type checks but not the family lookup
# or the login-lifetime arithmetic: answered 401 by every endpoint that takes a refresh token.
ODD_REFRESH_CLAIMS = {
    "fam not a UUID": {"fam": "not-a-uuid"},
    "fam empty": {"fam": ""},
    "auth_time past time_t": {"auth_time": 2**70},
    "auth_time past year 9999": {"auth_time": 10**12},
}


@pytest.mark.parametrize("path", ["/api/token/refresh/", "/api/token/verify/", "/api/token/blacklist/"])
@pytest.mark.parametrize("case", ODD_REFRESH_CLAIMS)
def test_signed_refresh_token_with_odd_family_or_login_time_is_a_401(client, api_login, fuzz_user, case, path):
    live = parse_refresh_token(api_login(fuzz_user)["refresh"])  # its family and jti: the lookup succeeds
    claims = {**minted_claims(fuzz_user.pk, "refresh"), "fam": live["fam"], "jti": live["jti"]}
    token = sign({**claims, **ODD_REFRESH_CLAIMS[case]})
    field = "token" if path.endswith("verify/") else "refresh"
    response = client.post(path, {field: token}, content_type="application/json")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
