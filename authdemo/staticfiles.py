"""The static files storage with debug off: WhiteNoise's, remembering the URLs it computed."""

from __future__ import annotations

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class RememberingManifestStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage; each name's URL is computed once per storage.

    With debug off, a manifest storage's URL for a name depends on nothing but the name, the
    manifest and the base URL, and the storage reads the last two once, when it is made
    (STATIC_URL with the script prefix; Django makes a new storage when STORAGES, STATIC_URL
    or STATIC_ROOT change). So the storage that computed a URL can keep it: never across
    storages, so a storage that signs or expires its URLs still answers every call itself,
    and never in debug, where Django gives the unhashed name. Django's url() costs 20-30 µs
    a call here (the manifest lookup, urljoin, unquote), for two links on every page.
    """

    MAX_REMEMBERED = 1024  # names come from templates; a bound in case one ever comes from input

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name, force=False):
        if force or settings.DEBUG:
            return super().url(name, force)
        url = self._urls.get(name)
        if url is None:
            url = super().url(name)
            if len(self._urls) < self.MAX_REMEMBERED:
                self._urls[name] = url
        return url
