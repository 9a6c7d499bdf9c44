"""System checks for the signing keys (ids api.E010-E011), run by `manage.py check` and at start-up."""

from django.conf import settings
from django.core.checks import Error, register

from api import keys


@register("security")
def check_signing_keys(app_configs=None, **kwargs) -> list[Error]:
    """An asymmetric JWT_ALGORITHM needs a readable key ring with an active key of that algorithm."""
    algorithm = settings.SIMPLE_JWT["ALGORITHM"]
    if algorithm == "HS256":
        return []
    try:
        active = keys.load_ring().active
    except keys.KeyFileError as exc:
        return [Error(str(exc), hint="See README 'Rotating the signing key'.", id="api.E010")]
    if active.algorithm != algorithm:
        return [
            Error(
                f"JWT_ALGORITHM={algorithm} but the active key {active.kid} is {active.algorithm}.",
                hint="Generate and activate a key of the configured algorithm.",
                id="api.E011",
            )
        ]
    return []
