"""The fake Kaspi Shop API v2, served under /kaspi/shop/api/v2/ following the seller guide.

It is strict where the real API is strict or might be: paging and the creation-date filter are
always required, the window is at most 14 days, status changes follow the documented table, a
part cancellation must leave something of its line's order. The waybill PDFs of Kaspi Delivery
are served apart, under /kaspi/waybills/ (`handle_waybill`), and so is the sandbox's own page of
the completion codes it "texted" buyers, under /sandbox/sms/ (`handle_sms`), for the demo.
"""

import base64
import html
import json
import math
import time
from urllib.parse import quote, urlsplit

from . import data
from .state import EntryCancelPost, KaspiRequest, StatusPost
from .wire import Response, failure, gateway_error, json_response, run_with_faults

JSONAPI = "application/vnd.api+json"
MAX_PAGE_SIZE = 100
MAX_WINDOW_DAYS = 14
CREATED_FROM = "filter[orders][creationDate][$ge]"
CREATED_TO = "filter[orders][creationDate][$le]"
STATES = ("NEW", "SIGN_REQUIRED", "PICKUP", "DELIVERY", "KASPI_DELIVERY", "ARCHIVE")
STATUSES = ("APPROVED_BY_BANK", "ACCEPTED_BY_MERCHANT", "COMPLETED", "CANCELLED", "CANCELLING",
            "KASPI_DELIVERY_RETURN_REQUESTED", "RETURNED")
MAX_COMMENT = 1000
MAX_PARCELS = 99
MASKED_PHONE = "+0(000)-000-00-00"  # what Kaspi sends instead of the buyer's phone on finished orders
UNAVAILABLE = "Order status change is temporarily unavailable"
BACK_AT_WAREHOUSE = {"CANCELLING": "CANCELLED", "KASPI_DELIVERY_RETURN_REQUESTED": "RETURNED"}
ENTRY_CANCEL = "orderEntryCancelOperation"
STATUS_SHAPE = '{"data": {"type": "orders", "id": ..., "attributes": {...}}}'
ENTRY_CANCEL_SHAPE = ('{"data": {"type": "orderEntryCancelOperation", "attributes": {...}, '
                      '"relationships": {"entry": {"data": {"type": "orderentries", "id": ...}}}}}')
# Kaspi silently ignores requests that announce an HTTP library instead of an application.
DEFAULT_AGENTS = ("python-requests", "python-urllib", "httpx")
RECORDED_HEADERS = ("User-Agent", "Content-Type", "X-Auth-Token", "X-Send-Code", "X-Security-Code")
SMS_ROOT = "/sandbox/sms"  # the codes the sandbox "texted" buyers: /sandbox/sms/<order code>
SMS_REFRESH_SECONDS = 5  # the page waits for a code still on its way


class _Refused(Exception):
    """A 4xx answer with Kaspi's error document."""

    def __init__(self, title, status=400):
        super().__init__(title)
        self.status = status


def handle(state, request):
    state.apply_due()  # part cancellations Kaspi applies "afterwards"
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


def handle_waybill(state, request):
    """GET <name>.pdf below /kaspi/waybills: a person's browser follows the link, so no token is asked for."""
    if state.kaspi_down:
        return gateway_error(503)
    order = _waybill_order(state, request)
    if order is None:
        return Response(404, b"Not Found", "text/plain")
    return Response(200, _pdf(order["attributes"]["kaspiDelivery"]["waybillNumber"]), "application/pdf")


def handle_sms(state, request):
    """GET /sandbox/sms/<order code>: the completion code Kaspi would text the buyer, who reads it out
    to the seller. A page of the sandbox, never of Kaspi: it lets the demo complete an order."""
    if request.method != "GET" or len(request.segments) != 1:
        return Response(404, b"Not Found", "text/plain")
    order_code = request.segments[0]
    code = state.security_codes.get(order_code)
    if code is None:
        text = (f"No code has been sent for order {order_code} yet: request its completion with the code "
                "left empty and approve it. This page reloads by itself.")
        return _sms_page(order_code, f"<p>{html.escape(text)}</p>", status=404, refresh=True)
    sent = state.codes_sent[order_code]
    body = (f'<p>Completion code: <strong id="code" style="font-size:2em">{html.escape(code)}</strong></p>'
            f"<p>Codes sent for this order: {sent}. Only the latest one works.</p>")
    return _sms_page(order_code, body)


def _sms_page(order_code, body, *, status=200, refresh=False):
    order_code = html.escape(order_code)
    head = f'<meta http-equiv="refresh" content="{SMS_REFRESH_SECONDS}">' if refresh else ""
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}'
        f"<title>Sandbox: SMS to the buyer of order {order_code}</title></head>"
        '<body style="font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em">'
        '<p id="sandbox-banner" style="background:#ffe08a;padding:.5em 1em;border-radius:4px"><strong>Sandbox, '
        "not Kaspi.</strong> In a real shop Kaspi texts this code to the buyer, who reads it out on delivery.</p>"
        f"<h1>SMS to the buyer of order {order_code}</h1>{body}</body></html>"
    )
    return Response(status, page.encode(), "text/html; charset=utf-8")


def _route(request):
    method, parts = request.method, request.segments
    if parts == ["orders"]:
        return {"GET": _list_orders, "POST": _change_status}.get(method)
    if method == "POST" and parts == [ENTRY_CANCEL]:
        return _cancel_entry
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
        "attributes": _served_attributes(order),
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


def _served_attributes(order):
    """As Kaspi shows them: a finished order's phone is masked (the sandbox keeps the real one)."""
    attributes = order["attributes"]
    if attributes["status"] not in data.FINAL_STATUSES:
        return attributes
    return {**attributes, "customer": {**attributes["customer"], "cellPhone": MASKED_PHONE}}


def _customers(orders):
    customers = {}
    for order in orders:
        person = _served_attributes(order)["customer"]
        attributes = {key: person[key] for key in ("firstName", "lastName", "cellPhone")}
        customers[order["customer_id"]] = {"type": "customers", "id": order["customer_id"], "attributes": attributes}
    return list(customers.values())


# --- changing a status --------------------------------------------------------------------------


def _change_status(state, request):
    post = _status_post(_status_resource(request), request.headers)
    if state.errors_with_200_next > 0:
        state.errors_with_200_next -= 1
        state.status_posts.append(post._replace(applied=False))
        return _errors(200, UNAVAILABLE)  # a refusal all the same: only the body says so
    try:
        order = _order(state, post.order_id)
        if state.unapplied_200_next > 0:
            state.unapplied_200_next -= 1
            post = post._replace(applied=False)  # answered as if done; only the status shows it was not
        else:
            _apply_status(state, order, post, request.root)
    except _Refused as refused:
        state.status_posts.append(post._replace(http_status=refused.status, applied=False))
        raise
    state.status_posts.append(post)
    answer = _document({"data": _order_resource(order, request.root)})
    return _lost_answer(state, answer) if post.applied else answer


def _status_resource(request):
    resource = _body_data(request, STATUS_SHAPE)
    valid = resource.get("type") == "orders" and isinstance(resource.get("id"), str)
    if not (valid and isinstance(resource.get("attributes"), dict)):
        raise _Refused(f"The body must be {STATUS_SHAPE}")
    return resource


def _status_post(resource, headers):
    attributes = resource["attributes"]
    return StatusPost(
        order_id=resource["id"],
        code=str(attributes.get("code")),
        status=attributes.get("status"),
        attributes=attributes,
        send_code=headers.get("X-Send-Code", "").lower() == "true",
        security_code=headers.get("X-Security-Code", "").strip(),
        http_status=200,
    )


def _apply_status(state, order, post, root):
    current = order["attributes"]
    if post.code != current["code"]:
        raise _Refused(f"Order code {post.code} does not belong to order {post.order_id}")
    if post.status == "ACCEPTED_BY_MERCHANT":
        _accept(current)
    elif post.status == "CANCELLED":
        _cancel(current, post.attributes)
    elif post.status == "COMPLETED":
        _complete(state, current, post)
    elif post.status == "ASSEMBLE":
        _assemble(order, post.attributes, root)
    elif post.status == "ARRIVED":
        _arrived(current)
    elif post.status == "ARRIVED_BACKWARD":
        _arrived_backward(current)
    else:
        raise _Refused(f"Status {post.status} can't be set by the merchant.")


def _accept(current):
    _require_status(current, "ACCEPTED_BY_MERCHANT", ("APPROVED_BY_BANK",))
    current.update(status="ACCEPTED_BY_MERCHANT", state=data.accepted_state(current))


def _cancel(current, asked):
    _require_status(current, "CANCELLED", data.OPEN_STATUSES)
    reason = asked.get("cancellationReason")
    _check_reason("cancellationReason", reason)
    _check_comment("cancellationComment", asked.get("cancellationComment"))
    current.update(status="CANCELLED", state="ARCHIVE", cancellationReason=reason)


def _complete(state, current, post):
    """Two calls, both with X-Send-Code: true: the first has Kaspi text the buyer a code, the second brings it."""
    if current["status"] == "CANCELLED":
        raise _Refused("Order is cancelled, so it can't be completed.")
    if current["status"] == "COMPLETED":
        raise _Refused("Order already has been completed, so it can't be completed again.")
    _require_status(current, "COMPLETED", ("ACCEPTED_BY_MERCHANT",))
    if current["isKaspiDelivery"]:
        raise _Refused("Kaspi Delivery orders are completed by Kaspi on delivery.")
    if not post.send_code:
        raise _Refused("X-Send-Code must be true")
    if not post.security_code:
        state.new_security_code(current["code"])
        return
    if post.security_code != state.security_codes.get(current["code"]):
        raise _Refused("Security code is not valid. And the order cannot be completed without it")
    current.update(status="COMPLETED", state="ARCHIVE")


def _assemble(order, asked, root):
    """How a Kaspi Delivery order is handed over: Kaspi makes its waybill and books the courier.

    The status stays ACCEPTED_BY_MERCHANT, so only a re-read of the order shows that it worked.
    """
    current = order["attributes"]
    if not current["isKaspiDelivery"]:
        raise _Refused("Only Kaspi Delivery orders can be assembled.")
    _require_status(current, "ASSEMBLE", ("ACCEPTED_BY_MERCHANT",))
    if current["assembled"]:
        raise _Refused("Order is already assembled.")
    _check_parcels(asked.get("numberOfSpace"))
    site = "{0.scheme}://{0.netloc}".format(urlsplit(root))
    data.assemble(current, order["id"], site=site, at_ms=data.to_ms(data.now_utc()))


def _check_parcels(value):
    """numberOfSpace, the number of parcels: a whole number from 1 to 99, as a number or a string."""
    text = value if isinstance(value, str) else str(value) if _is_int(value) else ""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PARCELS):
        raise _Refused(f"numberOfSpace must be a whole number from 1 to {MAX_PARCELS}")


def _arrived(current):
    """A pre-order's goods are in. Our reading: it is an ordinary order from then on; the status stays."""
    if not current["preOrder"]:
        raise _Refused("Order is not a pre-order.")
    _require_status(current, "ARRIVED", data.OPEN_STATUSES)
    current.update(preOrder=False, reservationDate=None)


def _arrived_backward(current):
    """The goods are back at the warehouse: a cancelling order is now cancelled, a return returned."""
    _require_status(current, "ARRIVED_BACKWARD", tuple(BACK_AT_WAREHOUSE))
    if current["status"] == "CANCELLING":
        current["cancellationReason"] = current.get("cancellationReason") or "BUYER_CANCELLATION_BY_MERCHANT"
    current.update(status=BACK_AT_WAREHOUSE[current["status"]], state="ARCHIVE")
    data.set_delivery_field(current, "returnedToWarehouse", True)


def _require_status(current, target, allowed):
    if current["status"] not in allowed:
        raise _Refused(f"Order in status {current['status']} can't be moved to status {target}.")


def _lost_answer(state, answer):
    """With `apply_then_fail_next`, Kaspi has made the change but the client will not hear of it."""
    if state.apply_then_fail_next <= 0:
        return answer
    state.apply_then_fail_next -= 1
    return failure(state.apply_then_fail_kind, answer, state.slow_seconds)


# --- cancelling part of an order ----------------------------------------------------------------


def _cancel_entry(state, request):
    """Checked at once, applied by Kaspi `entry_cancel_delay` seconds later: the answer only says INPROGRESS."""
    post = _entry_cancel_post(request)
    try:
        order, entry = _entry(state, post.entry_id)
        _check_entry_cancel(order, entry, post)
    except _Refused as refused:
        state.entry_cancel_posts.append(post._replace(http_status=refused.status))
        raise
    state.entry_cancel_posts.append(post)
    state.defer(state.entry_cancel_delay, lambda: _cut_entry(order, entry, post.remained))
    operation = base64.b64encode(f"{post.entry_id}##cancel##{len(state.entry_cancel_posts)}".encode()).decode()
    attributes = {"status": "INPROGRESS", "remainedQuantity": post.remained, "reason": post.reason}
    return _lost_answer(state, _document({"data": {"type": ENTRY_CANCEL, "id": operation, "attributes": attributes}}))


def _entry_cancel_post(request):
    resource = _body_data(request, ENTRY_CANCEL_SHAPE)
    try:
        entry = resource["relationships"]["entry"]["data"]
        valid = resource["type"] == ENTRY_CANCEL and entry["type"] == "orderentries" and isinstance(entry["id"], str)
        valid = valid and isinstance(resource["attributes"], dict)
    except (KeyError, TypeError):
        valid = False
    if not valid:
        raise _Refused(f"The body must be {ENTRY_CANCEL_SHAPE}")
    attributes = resource["attributes"]
    return EntryCancelPost(entry_id=entry["id"], remained=attributes.get("remainedQuantity"),
                           reason=attributes.get("reason"), notes=attributes.get("notes"), http_status=200)


def _entry(state, entry_id):
    for order in state.kaspi_orders:
        for entry in order["entries"]:
            if entry["id"] == entry_id:
                return order, entry
    raise _Refused(f"Order entry {entry_id} not found", status=404)


def _check_entry_cancel(order, entry, post):
    status = order["attributes"]["status"]
    if status not in data.OPEN_STATUSES:
        raise _Refused(f"Order in status {status} can't be cancelled in part.")
    _check_reason("reason", post.reason)
    _check_comment("notes", post.notes)
    quantity = entry["attributes"]["quantity"]
    if not (_is_int(post.remained) and 0 <= post.remained < quantity):
        raise _Refused(f"remainedQuantity must be a whole number from 0 to {quantity - 1}")
    others = sum(e["attributes"]["quantity"] for e in order["entries"] if e is not entry)
    if others + post.remained == 0:
        raise _Refused("Nothing of the order would remain: cancel the whole order instead.")


def _cut_entry(order, entry, remained):
    """Kaspi's side of a part cancellation: fewer units on the line (or no line) and a new order total."""
    line = entry["attributes"]
    line["quantity"] = min(line["quantity"], remained)  # an earlier cancellation may have cut it further
    if "totalPrice" in line:
        line["totalPrice"] = line["basePrice"] * line["quantity"]
    if line["quantity"] == 0 and entry in order["entries"]:
        order["entries"].remove(entry)
    order["attributes"]["totalPrice"] = data.order_total(order["entries"])


# --- waybills -----------------------------------------------------------------------------------


def _waybill_order(state, request):
    if request.method != "GET" or len(request.segments) != 1:
        return None
    path = f"{data.WAYBILLS_ROOT}/{request.segments[0]}"
    for order in state.kaspi_orders:
        waybill = (order["attributes"].get("kaspiDelivery") or {}).get("waybill")
        if waybill and urlsplit(waybill).path == path:
            return order
    return None


def _pdf(waybill_number):
    """A minimal valid one-page PDF that shows the waybill number: enough for a browser to open."""
    text = "".join(ch for ch in str(waybill_number) if ch.isascii() and ch.isalnum()).encode()  # safe in a PDF string
    content = b"BT /F1 24 Tf 72 760 Td (Kaspi Delivery waybill " + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


# --- helpers ------------------------------------------------------------------------------------


def _order(state, order_id):
    order = state.find_order(order_id=order_id)
    if order is None:
        raise _Refused(f"Order {order_id} not found", status=404)
    return order


def _body_data(request, shape):
    """The body's `data` object, after the Content-Type check Kaspi makes; `shape` describes the body wanted."""
    if request.headers.get("Content-Type", "").split(";")[0].strip() != JSONAPI:
        raise _Refused(f"Content-Type must be {JSONAPI}", status=415)
    try:
        resource = json.loads(request.body)["data"]
    except (ValueError, KeyError, TypeError):
        resource = None
    if not isinstance(resource, dict):
        raise _Refused(f"The body must be {shape}")
    return resource


def _check_reason(name, reason):
    if reason not in data.CANCELLATION_REASONS:
        raise _Refused(f"{name} must be one of {', '.join(data.CANCELLATION_REASONS)}")


def _check_comment(name, text):
    if text is not None and not isinstance(text, str):
        raise _Refused(f"{name} must be a string")
    if len(text or "") > MAX_COMMENT:
        raise _Refused(f"{name} must not be longer than {MAX_COMMENT} characters")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


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
