from django import template

from accounts.selectors import describe_user_agent

register = template.Library()


@register.filter
def client_name(raw: str) -> str:
    """ "Firefox on Ubuntu" for a User-Agent header."""
    return describe_user_agent(raw or "")
