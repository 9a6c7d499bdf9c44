"""The debug-off static storage remembers a URL only where it cannot change: per storage, debug off."""

import json

import pytest
from whitenoise.storage import CompressedManifestStaticFilesStorage

from authdemo.staticfiles import RememberingManifestStorage


@pytest.fixture
def collected(tmp_path):
    """A collected static root: a manifest naming one hashed file."""
    manifest = {"version": "1.1", "hash": "x", "paths": {"css/site.css": "css/site.0123456789ab.css"}}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    return tmp_path


def test_a_url_is_the_manifest_storages_own(settings, collected):
    settings.DEBUG = False
    storage = RememberingManifestStorage(location=collected, base_url="/static/")
    plain = CompressedManifestStaticFilesStorage(location=collected, base_url="/static/")
    for _ in range(2):
        assert storage.url("css/site.css") == plain.url("css/site.css") == "/static/css/site.0123456789ab.css"


def test_each_storage_answers_with_its_own_base_url(settings, collected):
    """As two storages under two script prefixes: one's URL is never the other's."""
    settings.DEBUG = False
    first = RememberingManifestStorage(location=collected, base_url="/static/")
    second = RememberingManifestStorage(location=collected, base_url="/mounted/static/")
    for _ in range(2):
        assert first.url("css/site.css") == "/static/css/site.0123456789ab.css"
        assert second.url("css/site.css") == "/mounted/static/css/site.0123456789ab.css"


def test_debug_gives_the_unhashed_name_after_a_remembered_url(settings, collected):
    storage = RememberingManifestStorage(location=collected, base_url="/static/")
    settings.DEBUG = False
    assert storage.url("css/site.css") == "/static/css/site.0123456789ab.css"
    settings.DEBUG = True
    assert storage.url("css/site.css") == "/static/css/site.css"


def test_a_name_missing_from_the_manifest_is_refused_every_time(settings, collected):
    settings.DEBUG = False
    storage = RememberingManifestStorage(location=collected, base_url="/static/")
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            storage.url("css/missing.css")
