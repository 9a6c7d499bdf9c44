"""Bad JSON bodies: a 400 with the API's error shape, never a 500."""

import logging
from io import BytesIO

import pytest
from rest_framework.exceptions import ParseError

from api.parsers import JSONParser

DEEP_ARRAY = "[" * 1200 + "]" * 1200  # 2.4 KB, deeper than Python's JSON decoder recurses
DEEP_OBJECT = '{"a":' * 1200 + "1" + "}" * 1200
JSON_ENDPOINTS = (
    "/api/token/",
    "/api/token/refresh/",
    "/api/token/verify/",
    "/api/token/blacklist/",
    "/api/cookie/login/",
)


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_a_parse_error(client, db, path, body):
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_deeply_nested_json_logs_no_error(client, db, caplog):
    with caplog.at_level(logging.WARNING):
        client.post("/api/token/", DEEP_ARRAY, content_type="application/json")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


# DRF's own JSONParser contract (its tests/test_parsers.py), held by our subclass.
def test_parser_reads_json_as_drfs_does():
    assert JSONParser().parse(BytesIO(b'{"username": "bob", "n": [1, 2.5]}')) == {"username": "bob", "n": [1, 2.5]}


@pytest.mark.parametrize("body", [b"NaN", b"Infinity", b"-Infinity", b'{"a": ', b"\xff"])
def test_parser_refuses_what_drfs_refuses(body):
    with pytest.raises(ParseError):
        JSONParser().parse(BytesIO(body))
