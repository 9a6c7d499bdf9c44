"""A second URLconf naming `sessions` at another path, for the tests that a page's url()
follows the URLconf it is drawn under."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("elsewhere/sessions/", lambda request: HttpResponse(), name="sessions")]
