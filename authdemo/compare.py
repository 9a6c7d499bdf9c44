"""The /compare/ page: the usual claims about sessions and JWTs, beside this install's evidence.

The figures come from the latest `make bench` (settings.BENCH_RESULTS); the rest is measured on
the visitor's own request. The live revocation demo logs in both ways and revokes both
through the services every other revocation uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import jwt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user
from django.contrib.auth import login as auth_login
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.urls import path
from django.utils.html import escape
from django.views.generic import TemplateView, View
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.forms import LoginForm
from accounts.services import revoke_everything
from api.authentication import SessionCSRFAuthentication
from api.services import issue_token_pair
from api.tokens import validate_access_token
from api.views import TimedAPIView

SCHEME_ORDER = (
    "healthz", "session_db", "session_redis", "session_cached_db", "session_signed_cookies",
    "jwt_stateless", "jwt_db_user", "jwt_cutoff", "jwt_cookie",
)  # fmt: skip
STORED_AS = {
    "db": "a row in the django_session table",
    "redis": "a key in Redis, nothing in the database",
    "cached_db": "a row in django_session, with a copy in Redis",
    "signed_cookies": "nothing on the server: the data is in your cookie, signed",
}


# -- selectors ----------------------------------------------------------------------------


def load_results(path: Path | None = None) -> dict | None:
    """Return the latest benchmark results, or None when no run has written them yet."""
    try:
        return json.loads(Path(path or settings.BENCH_RESULTS).read_text())
    except (FileNotFoundError, ValueError):
        return None


def scheme_rows(results: dict | None, phase: str = "empty") -> list[dict]:
    """One row per scheme in display order, each with its key."""
    rows = (results or {}).get(phase) or {}
    return [{"key": key, **rows[key]} for key in SCHEME_ORDER if key in rows]


def describe_visitor_session(request: HttpRequest) -> dict:
    """The visitor's session as the server stores it; the auth hash shown by prefix only."""
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    data = {key: (f"{value[:8]}…" if key == "_auth_user_hash" else value) for key, value in request.session.items()}
    return {
        "engine": settings.SESSION_BACKEND,
        "stored_as": f"{STORED_AS[settings.SESSION_BACKEND]} ({connection.display_name} here)",
        "cookie_bytes": len(cookie),
        "sent_cookie": bool(cookie),
        "data": data,
        "accepted": bool(data.get("_auth_user_id")),
        "expires_at": request.session.get_expiry_date() if data else None,
    }


def describe_visitor_token(request: HttpRequest) -> dict | None:
    """The visitor's own access token from its cookie: decoded claims, size, and whether it is accepted now."""
    raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
    if not raw:
        return None
    try:
        claims, refused = validate_access_token(raw).payload, ""
    except InvalidToken as exc:
        refused = exc.detail.get("code", "token_not_valid") if isinstance(exc.detail, dict) else "token_not_valid"
        try:
            claims = jwt.decode(raw, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            claims = {}
    return {"bytes": len(raw), "claims": claims, "accepted": not refused, "refused": refused}


def findings(results: dict | None) -> list[str]:
    """Sentences where this install's measurements contradict or qualify the usual table."""
    rows = {row["key"]: row for row in scheme_rows(results)}
    said = []
    if "jwt_db_user" in rows:
        said.append(
            f"SimpleJWT's default JWTAuthentication loads the user from the database on every request: "
            f"{rows['jwt_db_user']['sql_per_request']:.0f} SQL query per request measured, versus "
            f"{rows['jwt_stateless']['sql_per_request']:.0f} for the stateless variant."
        )
    if "jwt_cutoff" in rows:
        said.append(
            f"A JWT can be revoked at once: the cut-off check costs {rows['jwt_cutoff']['redis_per_request']:.0f} "
            f"Redis call per request and {rows['jwt_cutoff']['ratio']:.2f}x /healthz, versus "
            f"{rows['jwt_stateless']['ratio']:.2f}x without it."
        )
    if rows.get("session_redis", {}).get("sql_per_request", 0) >= 1:
        said.append(
            f"A session kept in Redis still costs {rows['session_redis']['sql_per_request']:.0f} SQL query per "
            "request: after reading the session, Django's authentication loads the user row from the database."
        )
    if "session_redis" in rows and "jwt_stateless" in rows:
        faster = rows["session_redis"]["ratio"] <= rows["jwt_stateless"]["ratio"]
        said.append(
            f"A session on Redis measured {rows['session_redis']['ratio']:.2f}x /healthz against "
            f"{rows['jwt_stateless']['ratio']:.2f}x for a stateless JWT: "
            + ("the lookup did not make it slower." if faster else "the lookup is the difference.")
        )
    return said


# -- chart --------------------------------------------------------------------------------


def chart_svg(results: dict) -> str:
    """Draw time per request by scheme as an SVG bar chart; text is escaped, no script."""
    rows, full = scheme_rows(results), {row["key"]: row for row in scheme_rows(results, "full")}
    top = max([row["time_per_request_us"] for row in [*rows, *full.values()]] + [1])
    bar, gap, left, width = 14, 10, 190, 360
    height = 40 + len(rows) * (2 * bar + gap) + 30
    parts = _chart_head(results, left + width + 120, height)
    for index, row in enumerate(rows):
        y = 30 + index * (2 * bar + gap)
        parts.append(f'<text x="{left - 8}" y="{y + bar}" text-anchor="end">{escape(row["label"])}</text>')
        parts += _bar(left, y, width * row["time_per_request_us"] / top, bar, row, "#1e6b3a")
        if row["key"] in full:
            scaled = full[row["key"]]
            parts += _bar(left, y + bar, width * scaled["time_per_request_us"] / top, bar, scaled, "#5b2a86")
    legend = [("#1e6b3a", "empty stores")]
    if full:
        legend.append(("#5b2a86", f"{results.get('scale_rows', 0):,} stored sessions and tokens"))
    for index, (colour, text) in enumerate(legend):
        x = left + index * 110
        parts.append(f'<rect x="{x}" y="{height - 22}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 12}">{escape(text)}</text>')
    return "\n".join([*parts, "</svg>"])


def _chart_head(results: dict, width: int, height: int) -> list[str]:
    machine = results.get("machine", {})
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="chart-title" font-family="sans-serif" font-size="12">',
        '<title id="chart-title">Server time per request by scheme (microseconds; lower is cheaper)</title>',
        f"<desc>Measured {escape(results.get('measured_at', ''))} on {escape(machine.get('cpu', ''))}</desc>",
        f'<text x="0" y="16" font-weight="bold">µs per request, one worker ({escape(results["mode"])} run)</text>',
    ]


def _bar(x: int, y: int, length: float, height: int, row: dict, colour: str) -> list[str]:
    label = f"{row['time_per_request_us']:.0f} µs ({row['ratio']:.2f}x)"
    return [
        f'<rect x="{x}" y="{y}" width="{max(length, 1):.1f}" height="{height - 2}" fill="{colour}"/>',
        f'<text x="{x + length + 4:.1f}" y="{y + height - 4}">{escape(label)}</text>',
    ]


# -- views --------------------------------------------------------------------------------


class CompareView(TemplateView):
    """The table: each usual claim, and what this install measured or shows."""

    template_name = "authdemo/compare.html"

    def get_context_data(self, **kwargs):
        results = load_results()
        return {
            **super().get_context_data(**kwargs),
            "results": results,
            "rows": scheme_rows(results),
            "full_rows": scheme_rows(results, "full"),
            "chart": chart_svg(results) if results else "",
            "findings": findings(results),
            "visitor_session": describe_visitor_session(self.request),
            "visitor_token": describe_visitor_token(self.request),
            "revocation_mode": settings.JWT_REVOCATION,
            "session_engine": settings.SESSION_BACKEND,
            "login_form": LoginForm(self.request),
        }


@extend_schema(exclude=True)  # a measuring probe of the compare page, not part of the API
class SessionProbeApi(TimedAPIView):
    """Answer as /api/dashboard/ does, authenticated by the session cookie alone.

    The benchmark measures sessions here, so that session and token requests do the
    same work after authentication; the revocation demo polls it.
    """

    authentication_classes = [SessionCSRFAuthentication]

    def get(self, request):
        user = request.user
        return Response({"message": f"Access granted to {user.username}", "data": {"user_id": user.pk}})


def _answer(request: HttpRequest, body: dict, status: int = 200):
    """JSON for the page's script; for a plain form post, a message and back to the demo."""
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(body, status=status)
    (messages.success if status == 200 else messages.error)(request, body["message"])
    return redirect("/compare/#revocation")


class DemoLoginView(View):
    """Log the visitor in both ways: a session (auth_login) and tokens (issue_token_pair).

    The access token goes into its HttpOnly cookie, as the cookie transport does; the
    refresh token stays on the server's records, to be blacklisted by the revocation.
    """

    http_method_names = ["post"]

    def post(self, request):
        form = LoginForm(request, data=request.POST)
        if not form.is_valid():
            return _answer(request, {"message": "Wrong username or password; nothing changed."}, status=400)
        user = form.get_user()
        auth_login(request, user)
        pair = issue_token_pair(user=user, request=request, transport="cookie")
        message = f"Logged in as {user.username} with a session and a token."
        response = _answer(request, {"message": message, "csrf": get_token(request)})
        response.set_cookie(
            settings.JWT_ACCESS_COOKIE,
            pair.access,
            expires=pair.access_expires_at,
            httponly=True,
            secure=settings.JWT_COOKIE_SECURE,
            samesite="Strict",
        )
        return response


class DemoRevokeView(View):
    """Revoke everything of the session's user; the browser keeps its now-void credentials.

    The revocation is not tied to this request (no `request=`), so this browser's session
    is ended in its store like any other rather than logged out here: its cookie stays,
    and the page can show the server refusing it. The user is read with `get_user`, so
    this request does not touch the session it is about to end.
    """

    http_method_names = ["post"]

    def post(self, request):
        user = get_user(request)
        if not user.is_authenticated:
            return _answer(request, {"message": "Log in with the first button first."}, status=403)
        revoke_everything(user=user, reason="compare demo", actor=user)
        return _answer(request, {"message": "Revoked: every session, refresh token and access token of yours."})


urlpatterns = [
    path("", CompareView.as_view(), name="compare"),
    path("probe/session/", SessionProbeApi.as_view(), name="probe_session"),
    path("demo/login/", DemoLoginView.as_view(), name="demo_login"),
    path("demo/revoke/", DemoRevokeView.as_view(), name="demo_revoke"),
]
