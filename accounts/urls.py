from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("sessions/", views.SessionsView.as_view(), name="sessions"),
    path("sessions/revoke/", views.RevokeSessionView.as_view(), name="revoke_session"),
    path("sessions/revoke-others/", views.RevokeOtherSessionsView.as_view(), name="revoke_other_sessions"),
    path("sessions/revoke-api/", views.RevokeFamilyView.as_view(), name="revoke_family"),
    path("sessions/everywhere/", views.LogoutEverywhereView.as_view(), name="logout_everywhere"),
]
