"""The second site's URLconf: what a request for Host localhost sees (crosssite.middleware).

Its backend's endpoints live under /api/, so Django's CSRF failure view answers them in JSON.
"""

from django.urls import path

from authdemo import views as site_views
from crosssite import views

urlpatterns = [
    path("", views.spa, name="crosssite_spa"),
    path("api/bff/login/", views.bff_login, name="bff_login"),
    path("api/bff/dashboard/", views.bff_dashboard, name="bff_dashboard"),
    path("api/bff/logout/", views.bff_logout, name="bff_logout"),
    path("healthz", site_views.healthz),
]

# The site's error pages extend its base template, whose links name the API site's URLs.
handler400 = "crosssite.views.bad_request"
handler403 = "crosssite.views.permission_denied"
handler404 = "crosssite.views.page_not_found"
handler500 = "crosssite.views.server_error"
