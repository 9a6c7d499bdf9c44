"""Offer device binding on every session login (the site's form and the admin's)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from devicebound import services


@receiver(user_logged_in, dispatch_uid="devicebound.logged_in")
def offer_binding_on_login(sender, request, user, **kwargs):
    if request is not None:
        services.mark_login(request=request)
