"""Who is on the other end of a request, as far as this server can tell."""

from django.conf import settings


def client_ip(request):
    """The client's address: REMOTE_ADDR, or behind PROXY_COUNT proxies the address the outermost of
    them saw (the Nth from the right of X-Forwarded-For; what a client writes further left is ignored)."""
    if settings.PROXY_COUNT:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= settings.PROXY_COUNT:
            return hops[-settings.PROXY_COUNT]
    return request.META.get("REMOTE_ADDR", "")
