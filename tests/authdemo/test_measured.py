"""The comparison's rows: the benchmark and /compare/ both take them from authdemo.measured."""

import os
import subprocess
import sys

from accounts import vocabulary
from authdemo import measured
from tests.support import ROOT


def test_every_session_engine_has_a_comparison_row():
    rows = {scheme.key for scheme in measured.SCHEMES}
    assert {measured.session_scheme_key(key) for key in vocabulary.ENGINE_KEYS} <= rows


def test_scheme_keys_are_unique_across_site_and_peers():
    keys = [*measured.SCHEME_KEYS, *measured.PEER_KEYS]
    assert len(keys) == len(set(keys))


def test_measured_imports_without_django():
    """The benchmark reads the rows without `django.setup()`: nothing on that path imports Django."""
    code = "import sys, authdemo.measured; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
