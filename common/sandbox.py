"""Is the Kaspi API in use the project's own sandbox (the demo)? Only then may a page point people
at the sandbox's pages, which stand in for what Kaspi would tell the buyer or do by itself."""

from urllib.parse import quote

from django.conf import settings


def sandbox_in_use():
    root = settings.SANDBOX_URL
    return bool(root) and settings.KASPI_API_URL.startswith(root + "/")


def buyer_sms_url(order_code):
    """The sandbox's page with the completion code it "texted" the buyer of an order (`handle_sms`
    in sandbox/kaspi.py), or "" when the sandbox is not the Kaspi API."""
    if not sandbox_in_use():
        return ""
    return f"{settings.SANDBOX_URL}/sandbox/sms/{quote(order_code, safe='')}"
