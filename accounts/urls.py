from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("sessions/", views.SessionsView.as_view(), name="sessions"),
    path("sessions/revoke/", views.RevokeSessionView.as_view(), name="revoke_session"),
    path("sessions/revoke-others/", views.RevokeOtherSessionsView.as_view(), name="revoke_other_sessions"),
    path("sessions/revoke-api/", views.RevokeFamilyView.as_view(), name="revoke_family"),
    path("sessions/everywhere/", views.LogoutEverywhereView.as_view(), name="logout_everywhere"),
]
