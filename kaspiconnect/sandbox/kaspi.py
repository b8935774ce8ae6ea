"""The fake Kaspi Shop API v2, served under /kaspi/shop/api/v2/ following the seller guide.

It is strict where the real API is strict or might be: paging and the creation-date filter are
always required, the window is at most 14 days, status changes follow the documented table.
"""

import json
import math
import time
from urllib.parse import quote

from . import data
from .state import KaspiRequest, StatusPost
from .wire import Response, failure, gateway_error, json_response, run_with_faults

JSONAPI = "application/vnd.api+json"
MAX_PAGE_SIZE = 100
MAX_WINDOW_DAYS = 14
CREATED_FROM = "filter[orders][creationDate][$ge]"
CREATED_TO = "filter[orders][creationDate][$le]"
STATES = ("NEW", "SIGN_REQUIRED", "PICKUP", "DELIVERY", "KASPI_DELIVERY", "ARCHIVE")
STATUSES = ("APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT", "COMPLETED", "CANCELLED", "CANCELLING",
            "KASPI_DELIVERY_RETURN_REQUESTED", "RETURNED")
CANCELLATION_REASONS = ("BUYER_CANCELLATION_BY_MERCHANT", "BUYER_NOT_REACHABLE", "MERCHANT_OUT_OF_STOCK")
MAX_COMMENT = 1000
# Kaspi silently ignores requests that announce an HTTP library instead of an application.
DEFAULT_AGENTS = ("python-requests", "python-urllib", "httpx")
RECORDED_HEADERS = ("User-Agent", "Content-Type", "X-Auth-Token", "X-Send-Code", "X-Security-Code")


class _Refused(Exception):
    """A 4xx answer with Kaspi's error document."""

    def __init__(self, title, status=400):
        super().__init__(title)
        self.status = status


def handle(state, request):
    state.kaspi_requests.append(_record(request))
    if request.headers.get("User-Agent", "").lower().startswith(DEFAULT_AGENTS):
        return Response(drop=True, delay=state.drop_seconds)  # no answer at all: the client times out
    if state.kaspi_down:
        return gateway_error(503)
    if request.headers.get("X-Auth-Token") != state.kaspi_token:
        return _errors(401, "Invalid token")
    view = _route(request)
    if view is None:
        return _errors(404, f"Unknown resource: {request.method} {request.path}")
    return run_with_faults(state, lambda: _answer(view, state, request))


def _route(request):
    method, parts = request.method, request.segments
    if parts == ["orders"]:
        return {"GET": _list_orders, "POST": _change_status}.get(method)
    if method == "GET" and len(parts) == 3 and parts[0] == "orders" and parts[2] == "entries":
        return _entries
    if method == "GET" and parts == ["cities"]:
        return _cities
    return None


def _answer(view, state, request):
    try:
        return view(state, request)
    except _Refused as refused:
        return _errors(refused.status, str(refused))


# --- reading ------------------------------------------------------------------------------------


def _list_orders(state, request):
    params = request.params
    number, size = _paging(params)
    orders = _filtered_orders(state, params)
    page = orders[number * size:(number + 1) * size]
    body = {
        "data": [_order_resource(order, request.root) for order in page],
        "meta": {"pageCount": math.ceil(len(orders) / size), "totalCount": len(orders)},
    }
    if "user" in params.get("include[orders]", "").split(","):
        body["included"] = _customers(page)
    return _document(body)


def _entries(state, request):
    order = _order(state, request.segments[1])
    return _document({"data": [_entry_resource(entry, request.root) for entry in order["entries"]]})


def _cities(state, request):
    cities = [{"type": "cities", "id": code, "attributes": {"code": code, "name": name, "active": True}}
              for code, name in data.KASPI_CITIES]
    return _document({"data": cities})


def _paging(params):
    number = _int_param(params, "page[number]")
    size = _int_param(params, "page[size]")
    if number < 0:
        raise _Refused("page[number] must not be negative")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _Refused(f"page[size] must be between 1 and {MAX_PAGE_SIZE}")
    return number, size


def _filtered_orders(state, params):
    code = params.get("filter[orders][code]")
    if code:
        orders = [o for o in state.kaspi_orders if o["attributes"]["code"] == code]
    else:
        start, end = _creation_window(params)
        orders = [o for o in state.kaspi_orders if start <= o["attributes"]["creationDate"] <= end]
    for key, allowed in (("state", STATES), ("status", STATUSES)):
        wanted = params.get(f"filter[orders][{key}]")
        if wanted and wanted not in allowed:
            raise _Refused(f"Unknown value of filter[orders][{key}]: {wanted}")
        if wanted:
            orders = [o for o in orders if o["attributes"][key] == wanted]
    return sorted(orders, key=lambda o: o["attributes"]["creationDate"])


def _creation_window(params):
    start = _int_param(params, CREATED_FROM)
    end = _int_param(params, CREATED_TO, default=data.to_ms(data.now_utc()))
    if end - start > MAX_WINDOW_DAYS * data.DAY_MS:
        days = math.ceil((end - start) / data.DAY_MS)
        raise _Refused(
            "Exceeded the maximum difference for the filter[orders][creationDate] (in days). "
            f"Actual [{days}], max [{MAX_WINDOW_DAYS}]."
        )
    return start, end


def _order_resource(order, root):
    link = f"{root}/orders/{quote(order['id'], safe='')}"
    return {
        "type": "orders",
        "id": order["id"],
        "attributes": order["attributes"],
        "relationships": {
            "user": {"links": {"related": f"{link}/user"}, "data": {"type": "customers", "id": order["customer_id"]}},
            "entries": {"links": {"related": f"{link}/entries"}},
        },
        "links": {"self": link},
    }


def _entry_resource(entry, root):
    link = f"{root}/orderentries/{quote(entry['id'], safe='')}"
    return {
        "type": "orderentries",
        "id": entry["id"],
        "attributes": entry["attributes"],
        "relationships": {"product": {"links": {"related": f"{link}/product"}}},
        "links": {"self": link},
    }


def _customers(orders):
    customers = {}
    for order in orders:
        person = order["attributes"]["customer"]
        attributes = {key: person[key] for key in ("firstName", "lastName", "cellPhone")}
        customers[order["customer_id"]] = {"type": "customers", "id": order["customer_id"], "attributes": attributes}
    return list(customers.values())


# --- changing a status --------------------------------------------------------------------------


def _change_status(state, request):
    resource = _status_resource(request)
    attributes = resource["attributes"]
    post = StatusPost(
        order_id=resource["id"],
        code=str(attributes.get("code")),
        status=attributes.get("status"),
        attributes=attributes,
        send_code=request.headers.get("X-Send-Code", "").lower() == "true",
        security_code=request.headers.get("X-Security-Code", "").strip(),
        http_status=200,
    )
    try:
        order = _apply_status(state, post)
    except _Refused as refused:
        state.status_posts.append(post._replace(http_status=refused.status))
        raise
    state.status_posts.append(post)
    answer = _document({"data": _order_resource(order, request.root)})
    if state.apply_then_fail_next > 0:
        # Kaspi has made the change, but the client will not hear of it.
        state.apply_then_fail_next -= 1
        return failure(state.apply_then_fail_kind, answer, state.slow_seconds)
    return answer


def _status_resource(request):
    if request.headers.get("Content-Type", "").split(";")[0].strip() != JSONAPI:
        raise _Refused(f"Content-Type must be {JSONAPI}", status=415)
    try:
        resource = json.loads(request.body)["data"]
        valid = resource["type"] == "orders" and isinstance(resource["id"], str)
        valid = valid and isinstance(resource["attributes"], dict)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise _Refused('The body must be {"data": {"type": "orders", "id": ..., "attributes": {...}}}')
    return resource


def _apply_status(state, post):
    order = _order(state, post.order_id)
    if post.code != order["attributes"]["code"]:
        raise _Refused(f"Order code {post.code} does not belong to order {post.order_id}")
    if post.status == "ACCEPTED_BY_MERCHANT":
        _accept(order["attributes"])
    elif post.status == "CANCELLED":
        _cancel(order["attributes"], post.attributes)
    elif post.status == "COMPLETED":
        _complete(state, order["attributes"], post)
    else:
        raise _Refused(f"Status {post.status} can't be set by the merchant.")
    return order


def _accept(current):
    _require_status(current, "ACCEPTED_BY_MERCHANT", ("APPROVED_BY_BANK",))
    current.update(status="ACCEPTED_BY_MERCHANT", state=data.accepted_state(current))


def _cancel(current, asked):
    _require_status(current, "CANCELLED", ("APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT"))
    reason = asked.get("cancellationReason")
    if reason not in CANCELLATION_REASONS:
        raise _Refused(f"cancellationReason must be one of {', '.join(CANCELLATION_REASONS)}")
    if len(asked.get("cancellationComment") or "") > MAX_COMMENT:
        raise _Refused(f"cancellationComment must not be longer than {MAX_COMMENT} characters")
    current.update(status="CANCELLED", state="ARCHIVE", cancellationReason=reason)


def _complete(state, current, post):
    """Two calls: the first has Kaspi text the buyer a code, the second brings that code back."""
    if current["status"] == "CANCELLED":
        raise _Refused("Order is cancelled, so it can't be completed.")
    if current["status"] == "COMPLETED":
        raise _Refused("Order already has been completed, so it can't be completed again.")
    _require_status(current, "COMPLETED", ("ACCEPTED_BY_MERCHANT",))
    if post.send_code and not post.security_code:
        state.new_security_code(current["code"])
        return
    if not post.security_code or post.security_code != state.security_codes.get(current["code"]):
        raise _Refused("Security code is not valid. And the order cannot be completed without it")
    current.update(status="COMPLETED", state="ARCHIVE")


def _require_status(current, target, allowed):
    if current["status"] not in allowed:
        raise _Refused(f"Order in status {current['status']} can't be moved to status {target}.")


# --- helpers ------------------------------------------------------------------------------------


def _order(state, order_id):
    order = state.find_order(order_id=order_id)
    if order is None:
        raise _Refused(f"Order {order_id} not found", status=404)
    return order


def _int_param(params, name, default=None):
    value = params.get(name, "")
    if value == "" and default is not None:
        return default
    if value == "":
        raise _Refused(f"Parameter {name} is required")
    try:
        return int(value)
    except ValueError:
        raise _Refused(f"Parameter {name} must be an integer") from None


def _record(request):
    headers = {name: request.headers[name] for name in RECORDED_HEADERS if name in request.headers}
    return KaspiRequest(time.monotonic(), request.method, request.path, dict(request.params), headers,
                        _decoded(request.body))


def _decoded(body):
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _document(body):
    return json_response(body, content_type=JSONAPI)


def _errors(status, title):
    return json_response({"errors": [{"title": title}]}, status, content_type=JSONAPI)
