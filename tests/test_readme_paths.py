"""README's "How a request is authenticated" names a function and its length on each row: both hold."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

SECTION = (
    Path(__file__)
    .resolve()
    .parent.parent.joinpath("README.md")
    .read_text()
    .split("## How a request is authenticated", 1)[1]
    .split("\n## ", 1)[0]
)
ROWS = re.findall(r"^\| [^|]+ \| `([\w.]+):([\w.]+)` \| (\d+) \|$", SECTION, re.M)


def source_of(module: str, qualname: str):
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return inspect.getsourcelines(found)[0]


def test_readme_paths_name_a_dozen_steps_or_more():
    assert len(ROWS) >= 15


@pytest.mark.parametrize(("module", "qualname", "lines"), ROWS, ids=[f"{m}:{q}" for m, q, _ in ROWS])
def test_readme_path_step_has_the_stated_length(module, qualname, lines):
    assert len(source_of(module, qualname)) == int(lines)
