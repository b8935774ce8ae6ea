import re
import uuid

from common.log import request_id, security_event
from common.net import client_ip

# What proxies and load balancers send (UUIDs, hex, dotted ids); anything else could forge log lines.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


class RequestIdMiddleware:
    """Tags every log record of a request with one id, and returns it in `X-Request-ID`.

    A sane id from the proxy in front is kept, so its logs and ours can be matched.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class RefusalLogMiddleware:
    """Every 403 goes to the security log: who asked for what they may not do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            security_event("refused", f"{request.method} {request.path}: permission denied",
                           user=user if user and user.is_authenticated else "", address=client_ip(request))
        return response
