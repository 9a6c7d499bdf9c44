from django.urls import path

from devicebound import views

urlpatterns = [
    path("register/", views.register, name="dbsc_register"),
    path("refresh/", views.refresh, name="dbsc_refresh"),
]
