"""The bare project's endpoints: a JSON ping, a stateless JWT view, a session view."""

from django.contrib.auth import authenticate, login
from django.http import JsonResponse
from django.urls import path
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.views import TokenObtainPairView


def ping(request):
    return JsonResponse({"status": "ok"})


class LoginApi(APIView):
    """Log in with a username and password and start a session (how the bench gets a cookie)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        user = authenticate(request, username=request.data.get("username"), password=request.data.get("password"))
        if user is None:
            return Response({"detail": "invalid credentials"}, status=400)
        login(request, user)
        return Response({"id": user.pk})


class DashboardApi(APIView):
    authentication_classes = [JWTStatelessUserAuthentication]

    def get(self, request):
        return Response({"message": f"Access granted to {request.auth['user_id']}", "data": request.auth.payload})


class SessionApi(APIView):
    authentication_classes = [SessionAuthentication]

    def get(self, request):
        return Response({"id": request.user.pk, "username": request.user.get_username()})


urlpatterns = [
    path("ping", ping),
    path("login/", LoginApi.as_view()),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/dashboard/", DashboardApi.as_view()),
    path("api/session/", SessionApi.as_view()),
]
