"""A login attempt on each of the site's login paths, from a given address (tests/security)."""


def html_login(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def admin_login(client, username, password, ip="10.0.0.1"):
    return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def token_login(client, username, password, ip="10.0.0.1"):
    return client.post(
        "/api/token/", {"username": username, "password": password}, content_type="application/json", REMOTE_ADDR=ip
    )


def cookie_login(client, username, password, ip="10.0.0.1"):
    client.get("/spa/")  # a CSRF cookie, as a browser would have
    token = client.cookies["csrftoken"].value
    return client.post(
        "/api/cookie/login/", {"username": username, "password": password},
        content_type="application/json", HTTP_X_CSRFTOKEN=token, REMOTE_ADDR=ip,
    )  # fmt: skip


PATHS = {"html": html_login, "admin": admin_login, "token": token_login, "cookie": cookie_login}
