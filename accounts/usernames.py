"""Look-alike usernames: a skeleton per Unicode UTS #39, section 4 ("Confusable Detection").

Two usernames that look the same to a reader (Latin `a` and Cyrillic `а`, `l` and `I`,
`rn` and `m`, full-width `ａ` and `a`, `Alice` and `alice`) get the same skeleton; the
user table keeps one username per skeleton. The confusable pairs come from Unicode's
confusables.txt as shipped by `confusable_homoglyphs` (the data django-registration uses).
This module imports no Django.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data


@cache
def _prototypes() -> dict[str, str]:
    """Map every confusable character to its prototype, as confusables.txt does.

    The package stores each pair of confusables.txt in both directions. A source
    character has one entry, its prototype; a prototype has one entry per source. Where
    a pair stands alone (one source, one prototype, each the other's only entry) the
    direction is lost, so both map to the smaller: skeletons still compare equal.
    """
    mapping = {}
    for char, entries in confusables_data.items():
        if len(char) != 1 or len(entries) != 1:
            continue  # a prototype of several characters, or a sequence
        target = entries[0]["c"]
        if len(confusables_data.get(target, ())) > 1:
            mapping[char] = target
        else:
            mapping[char] = min(char, target)
    return mapping


def username_skeletons(username: str) -> tuple[str, str]:
    """Return the two forms that look-alikes of `username` share: (as written, case-blind).

    The first is UTS #39's skeleton (NFD, each character to its prototype, NFD again) of
    the NFKC form Django stores; it catches `wiII` (capital I) beside `will`. The second is
    the skeleton of the casefolded name, folded again after mapping (`0` maps to capital
    `O`); it catches `ALICE` and `АLICE` beside `alice`. One form cannot do both: `I` looks
    like `l` and is a capital `i`, and `alice` and `allce` must stay two names.
    """
    name = unicodedata.normalize("NFKC", username)
    return _skeleton(name), _skeleton(_skeleton(name.casefold()).casefold())


def _skeleton(text: str) -> str:
    prototypes = _prototypes()
    mapped = "".join(prototypes.get(char, char) for char in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)
