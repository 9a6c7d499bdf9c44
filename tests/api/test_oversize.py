"""A request body over the 64 KB limit (DATA_UPLOAD_MAX_MEMORY_SIZE): the API answers 413 in
its error shape, the site a readable 413 page; a real server's client gets the whole answer,
not a reset connection, and a chunked body without Content-Length is limited the same way."""

import json
import logging
import re
import socket

import pytest
import requests

from harness.stack import Server
from tests.factories import PASSWORD, UserFactory
from tests.support import ROOT

LIMIT = 64 * 1024
OVERSIZE = 200 * 1024
API_PATHS = ("/api/token/", "/api/token/refresh/", "/api/cookie/login/")
FORM_PATHS = ("/accounts/login/", "/accounts/signup/")


def json_of_size(size: int) -> bytes:
    """A login body of exactly `size` bytes."""
    start, end = b'{"username": "', b'", "password": "x"}'
    return start + b"a" * (size - len(start) - len(end)) + end


def is_too_large(response) -> bool:
    return response.status_code == 413 and response.json() == {
        "detail": "The request body is larger than this site accepts (64 KB).",
        "code": "request_too_large",
    }


# -- the Django test client ---------------------------------------------------------------------


@pytest.mark.parametrize("path", API_PATHS)
def test_oversize_json_body_is_a_413_in_the_apis_error_shape(client, db, path):
    assert is_too_large(client.post(path, json_of_size(OVERSIZE), content_type="application/json"))


@pytest.mark.parametrize("path", FORM_PATHS)
def test_oversize_form_is_a_readable_413_page(client, db, path):
    response = client.post(path, {"username": "a" * OVERSIZE, "password": "x"})
    page = response.content.decode()
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "<h1>Request too large</h1>" in page
    assert "Traceback" not in page


def test_oversize_body_in_debug_is_the_same_413(client, db, settings):
    settings.DEBUG = True  # Django's own answer was its debug page
    assert is_too_large(client.post("/api/token/", json_of_size(OVERSIZE), content_type="application/json"))


def test_body_at_the_limit_is_read(client, db):
    response = client.post("/api/token/", json_of_size(LIMIT), content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")  # read and validated


def test_oversize_body_logs_no_error(client, db, caplog):
    with caplog.at_level(logging.WARNING):
        client.post("/api/token/", json_of_size(OVERSIZE), content_type="application/json")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


# -- a real server (granian, and gunicorn sync) ---------------------------------------------------


@pytest.fixture(scope="module")
def sync_server(server_env, tmp_path_factory):
    """The site under gunicorn's sync worker, which the benchmark compares with granian (what
    `make serve` runs, `app_server`): each connection closes after its answer, having read at most
    64 KB more of an unread body (gunicorn's close_graceful)."""
    log = tmp_path_factory.mktemp("sync-server") / "server.log"
    server = Server("sync", server_env, log, app="authdemo.wsgi", worker_class="sync").start()
    yield server.wait_ready()
    server.stop()


@pytest.fixture(params=["app_server", "sync_server"])
def real_server(request, transactional_db):
    return request.getfixturevalue(request.param)


def raw_post(server, path: str, headers: list[str], body: bytes) -> tuple[str, dict]:
    """POST over a socket of our own, asking the server to close after its answer, and read
    until it does; a reset raises ConnectionResetError. Return the status line and the JSON."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Content-Type: application/json",
            "Connection: close", *headers]  # fmt: skip
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    return status.decode(), json.loads(rest.partition(b"\r\n\r\n")[2])


def chunked(body: bytes, size: int = 8192) -> bytes:
    """`body` in HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1)."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@pytest.mark.server
def test_server_answers_an_oversize_body_with_the_413_json(real_server):
    body = json_of_size(OVERSIZE)
    status, data = raw_post(real_server, "/api/token/", [f"Content-Length: {len(body)}"], body)
    assert status.split(" ")[:2] == ["HTTP/1.1", "413"]  # the reason phrase is the server's own
    assert data["code"] == "request_too_large"


@pytest.mark.server
def test_server_answers_an_oversize_chunked_body_with_the_413_json(real_server):
    status, data = raw_post(real_server, "/api/token/", ["Transfer-Encoding: chunked"], chunked(json_of_size(OVERSIZE)))
    assert status.split(" ")[:2] == ["HTTP/1.1", "413"]  # the reason phrase is the server's own
    assert data["code"] == "request_too_large"


@pytest.mark.server
def test_server_reads_a_chunked_body_within_the_limit(app_server, transactional_db):
    UserFactory(username="bob")
    body = json.dumps({"username": "bob", "password": PASSWORD}).encode()
    response = requests.post(f"{app_server.url}/api/token/", data=iter([body]),  # an iterator: sent chunked
                             headers={"Content-Type": "application/json"}, timeout=10)  # fmt: skip
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200
    assert set(response.json()) >= {"access", "refresh"}


@pytest.mark.server
def test_server_answers_the_next_request_on_the_connection_after_a_413(app_server, transactional_db):
    with requests.Session() as session:
        too_large = session.post(f"{app_server.url}/api/token/", data=json_of_size(OVERSIZE),
                                 headers={"Content-Type": "application/json"}, timeout=10)  # fmt: skip
        health = session.get(f"{app_server.url}/healthz", timeout=10)
    assert is_too_large(too_large)
    assert health.status_code == 200


# -- nginx in front (deploy/) -------------------------------------------------------------------


def test_nginx_refuses_the_bodies_the_app_refuses(settings):
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    sizes = re.findall(r"^\s*client_max_body_size\s+(\d+)k;", config, re.MULTILINE)
    assert [int(size) * 1024 for size in sizes] == [settings.DATA_UPLOAD_MAX_MEMORY_SIZE]
