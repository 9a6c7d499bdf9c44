import pytest

from crosssite.checks import cors_is_one_exact_origin


def test_cors_check_passes_the_sites_configuration():
    assert cors_is_one_exact_origin(None) == []


@pytest.mark.parametrize(
    "override",
    [
        {"CORS_ALLOW_ALL_ORIGINS": True},
        {"CORS_ALLOWED_ORIGIN_REGEXES": [r"^http://localhost:\d+$"]},
        {"CORS_ALLOWED_ORIGINS": ["null"]},
        {"CORS_ALLOWED_ORIGINS": ["*"]},
        {"CORS_ALLOWED_ORIGINS": ["http://localhost:8000", "https://evil.example"]},
    ],
)
def test_cors_check_refuses_a_wildcard_a_pattern_or_null(settings, override):
    for name, value in override.items():
        setattr(settings, name, value)

    assert [error.id for error in cors_is_one_exact_origin(None)] == ["crosssite.E001"]
