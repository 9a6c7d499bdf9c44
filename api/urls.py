from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views, wellknown

urlpatterns = [
    path("token/", views.TokenObtainPairApi.as_view(), name="token_obtain_pair"),
    path("token/refresh/", views.TokenRefreshApi.as_view(), name="token_refresh"),
    path("token/verify/", views.TokenVerifyApi.as_view(), name="token_verify"),
    path("token/blacklist/", views.TokenBlacklistApi.as_view(), name="token_blacklist"),
    path("cookie/login/", views.CookieLoginApi.as_view(), name="cookie_login"),
    path("cookie/refresh/", views.CookieRefreshApi.as_view(), name="cookie_refresh"),
    path("cookie/logout/", views.CookieLogoutApi.as_view(), name="cookie_logout"),
    path("dashboard/", views.DashboardApi.as_view(), name="dashboard"),
    path("dashboard/db/", views.DashboardDatabaseUserApi.as_view(), name="dashboard_db"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("revocations/", wellknown.revocation_feed, name="revocation_feed"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
]
