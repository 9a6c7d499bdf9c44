"""The token configuration's guards are Django system checks with ids, not start-up raises."""

from django.core.checks import run_checks
from django.test import modify_settings


def check_ids() -> set[str]:
    return {message.id for message in run_checks()}


def test_configuration_as_shipped_passes_the_token_checks(db):
    assert not {i for i in check_ids() if i.startswith("api.")}


def test_missing_blacklist_app_is_check_api_e001(db):
    with modify_settings(INSTALLED_APPS={"remove": "rest_framework_simplejwt.token_blacklist"}):
        assert "api.E001" in check_ids()


def test_rotation_settings_nothing_reads_are_check_api_e002(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}
    assert "api.E002" in check_ids()
