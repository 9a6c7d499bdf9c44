"""A URLconf under i18n_patterns, for the test that url() follows the active language."""

from django.conf.urls.i18n import i18n_patterns
from django.http import HttpResponse
from django.urls import path

urlpatterns = i18n_patterns(path("sessions/", lambda request: HttpResponse(), name="sessions"))
