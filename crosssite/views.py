"""The second site (Host localhost, crosssite.site_urls): one small SPA, five ways to reach the API,
and its backend-for-frontend; and the API site's link to it."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import TemplateView

from crosssite import bff


def second_site(request):
    """Send the API site's visitor to the second site's page."""
    return HttpResponseRedirect(f"{settings.CROSS_SITE_ORIGIN}/")


class CrossSiteSpaView(TemplateView):
    """The SPA; its Content-Security-Policy lets it connect to the API's origin and nowhere else."""

    template_name = "crosssite/spa.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs, api_origin=settings.CROSS_SITE_API)

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response._csp_update = {"connect-src": [settings.CROSS_SITE_API]}  # django-csp's csp_update, per request
        return response


spa = ensure_csrf_cookie(CrossSiteSpaView.as_view())


def _answer(result: dict) -> JsonResponse:
    return JsonResponse(result["body"], status=result["status"])


def _error(error: bff.BffError) -> JsonResponse:
    return JsonResponse({"detail": error.detail, "code": error.code}, status=error.status)


@never_cache
@require_POST
def bff_login(request):
    """Log in through the backend: JSON {username, password}, the CSRF token in X-CSRFToken."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data[k] for k in ("username", "password")
    ):
        return JsonResponse({"detail": "Send JSON with username and password.", "code": "invalid"}, status=400)
    try:
        return _answer(bff.log_in(session=request.session, username=data["username"], password=data["password"]))
    except bff.BffError as error:
        return _error(error)


@never_cache
@require_GET
def bff_dashboard(request):
    """The API's dashboard, called by the backend with the tokens it holds."""
    try:
        return _answer(bff.call_api(session=request.session, path="/api/dashboard/"))
    except bff.BffError as error:
        return _error(error)


@never_cache
@require_POST
def bff_logout(request):
    try:
        bff.log_out(session=request.session)
    except bff.BffError as error:
        return _error(error)
    return JsonResponse({"detail": "Logged out."})


def _error_page(request, status: int, message: str, code: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": code}, status=status)
    html = render_to_string("crosssite/error.html", {"message": message, "status": status})
    return HttpResponse(html, status=status)


def bad_request(request, exception):
    return _error_page(request, 400, "The request could not be understood.", "bad_request")


def permission_denied(request, exception):
    return _error_page(request, 403, "You are not allowed to do that.", "permission_denied")


def page_not_found(request, exception):
    return _error_page(request, 404, "There is nothing at this address on the second site.", "not_found")


def server_error(request):
    return _error_page(request, 500, "Something went wrong on the second site.", "server_error")
