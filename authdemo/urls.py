from django.contrib import admin
from django.urls import include, path

from api import wellknown
from authdemo import compare, theft, views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("cookies/", views.cookie_demo, name="cookies"),
    path("spa/", views.SpaView.as_view(), name="spa"),
    path("compare/", include((compare.urlpatterns, "compare"))),
    path("theft/", theft.TheftView.as_view(), name="theft"),
    path("crosssite/", include("crosssite.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(".well-known/jwks.json", wellknown.jwks, name="jwks"),
    path("accounts/", include("accounts.urls")),
    path("dbsc/", include("devicebound.urls")),
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "authdemo.views.bad_request"
handler403 = "authdemo.views.permission_denied"
handler404 = "authdemo.views.page_not_found"
handler500 = "authdemo.views.server_error"
