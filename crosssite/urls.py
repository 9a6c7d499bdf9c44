"""The API site's cross-site endpoints, under /crosssite/."""

from django.urls import path

from crosssite import api, views

app_name = "crosssite"
urlpatterns = [
    path("", views.second_site, name="second_site"),
    path("api/token-cookie/login/", api.TokenCookieLoginApi.as_view(), name="token_cookie_login"),
    path("api/session/login/", api.SessionCookieLoginApi.as_view(), name="session_login"),
]
