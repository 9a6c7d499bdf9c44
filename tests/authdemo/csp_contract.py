"""A pytest plugin (`-p tests.authdemo.csp_contract`): django-csp's own tests, with its
middleware replaced by the site's subclass before they import it."""

import csp.middleware

from authdemo.content_security import CSPMiddleware

csp.middleware.CSPMiddleware = CSPMiddleware


def pytest_report_header(config):
    return f"csp.middleware.CSPMiddleware is {CSPMiddleware.__module__}.{CSPMiddleware.__qualname__}"
