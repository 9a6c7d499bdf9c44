from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.http import describe_user_agent

register = template.Library()


@register.filter
def client_name(raw: str) -> str:
    """ "Firefox on Ubuntu" for a User-Agent header."""
    return describe_user_agent(raw or "")


@register.filter
def ago(moment) -> str:
    """ "just now" for under a minute, else "5 minutes ago"."""
    if moment is None:
        return "never"
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"
