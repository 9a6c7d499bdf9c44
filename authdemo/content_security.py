"""The Content-Security-Policy header: django-csp's middleware, with the settings' policy built once.

No import of the project's own: django-csp's own middleware tests run against this class under
their own settings (tests/authdemo/test_csp_middleware.py).
"""

from __future__ import annotations

from typing import NamedTuple

import csp.middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once instead of on every response.

    django-csp builds the header from the settings twice per response (the policy and the
    report-only one): about 35 µs of every request, /healthz included. When nothing about
    this response changes it (no `@csp_update`-style decorator on the view, no exemption, no
    nonce read by a template, debug off, no excluded prefixes in the settings), the header is
    the settings' policy, the same every time: it is built by django-csp's own `build_policy`
    once per generation of the settings (`settings_policy`) and set as django-csp sets it. Every other
    response goes through django-csp unchanged. django-csp's own middleware tests run against
    this class (tests/authdemo/test_csp_middleware.py).
    """

    def __init__(self, get_response):
        super().__init__(get_response)
        # A subclass that extends django-csp's documented hook gets django-csp's path every time.
        self.extended = type(self).get_policy_parts is not csp.middleware.CSPMiddleware.get_policy_parts

    def process_response(self, request, response):
        policy = settings_policy()
        if self.extended or policy.excludes or not _plain(request, response):
            return super().process_response(request, response)
        for header, value in ((HEADER, policy.enforced), (HEADER_REPORT_ONLY, policy.report_only)):
            if value and header not in response:
                response[header] = value
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # as django-csp does
        return response


_PER_RESPONSE = tuple(
    f"_csp_{part}{ro}" for part in ("config", "update", "replace", "exempt") for ro in ("", "_ro")
)  # what django-csp's decorators set on a response


def _plain(request, response) -> bool:
    """True if nothing about this request or response changes django-csp's answer."""
    return not (
        settings.DEBUG  # django-csp leaves debug 404 and 500 pages alone
        or getattr(request, "_csp_nonce", None) is not None
        or any(hasattr(response, name) for name in _PER_RESPONSE)
    )


class SettingsPolicy(NamedTuple):
    enforced: str  # the Content-Security-Policy header, "" for none
    report_only: str  # the Content-Security-Policy-Report-Only header, "" for none
    excludes: bool  # whether either setting excludes URL prefixes (then every response is django-csp's)


SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
_built: dict[int, SettingsPolicy] = {}  # the settings' generation: what they give
_generation = 0


def settings_policy() -> SettingsPolicy:
    """The policies the settings give, as django-csp builds them, and whether they exclude prefixes.

    Built once per generation of the settings: a changed CONTENT_SECURITY_POLICY* setting
    (override_settings sends setting_changed) starts a new one, so a policy still being built
    from the old settings when it changed is never kept for the new. Change the settings by
    assigning them, not by editing their dicts in place, which Django announces to nobody.
    """
    generation = _generation
    built = _built.get(generation)
    if built is None:
        configs = (getattr(settings, name, None) or {} for name in SETTINGS)
        excludes = any(config.get("EXCLUDE_URL_PREFIXES") for config in configs)
        built = _built[generation] = SettingsPolicy(build_policy(), build_policy(report_only=True), excludes)
    return built


@receiver(setting_changed)
def _forget_policies(*, setting: str, **kwargs) -> None:
    global _generation
    if setting in SETTINGS:
        _generation += 1
        _built.clear()
