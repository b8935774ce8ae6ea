"""Requests and answers as the two fake APIs see them, and the failures both can inject."""

import json
from dataclasses import dataclass

FAULT_KINDS = ("500", "502", "503", "bad_json", "slow")


@dataclass
class Request:
    method: str
    path: str  # below the API's root, percent-decoded, e.g. "/orders/MTAwMDAwMDAwMQ==/entries"
    segments: list  # the path's parts, each decoded on its own, so an encoded "/" stays inside its part
    params: dict  # query parameters, the last value of each
    headers: object  # the incoming `email.message.Message`: case-insensitive `get`
    body: bytes
    root: str  # absolute URL of the API's root, for links in answers


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # after the delay, close the connection without answering


def json_response(data, status=200, content_type="application/json; charset=UTF-8"):
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), content_type)


def gateway_error(status):
    """What a proxy in front of a broken service sends: an HTML page, not JSON."""
    reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable"}[status]
    page = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1><hr>nginx</body></html>"
    return Response(status, page.encode(), "text/html")


def failure(kind, answer, slow_seconds):
    """Spoil `answer` in the way `kind` names: a 5xx, a 200 whose body is not JSON, or a late answer.

    A late answer is the real one, delayed past the client's timeout: whatever the request changed
    stays changed, which is exactly the doubt a timeout leaves the client in.
    """
    if kind == "slow":
        answer.delay = slow_seconds
        return answer
    if kind == "bad_json":
        return Response(200, b'{"success": true, "data": [{"id": 1', "application/json")  # cut short
    return gateway_error(int(kind))


def run_with_faults(state, run):
    """Answer `run()`, unless the dice (`state.fail_rate`) pick a temporary failure for this request.

    A 5xx or bad JSON replaces the answer and `run` never happens; a slow failure runs it and
    answers late.
    """
    kind = state.random_fault()
    if kind is None:
        return run()
    return failure(kind, run() if kind == "slow" else None, state.slow_seconds)
