"""`SandboxServer`: the fake Al-Style and Kaspi APIs on one local port.

    srv = SandboxServer(port=0, products=3000, orders=300, seed=42).start()
    srv.alstyle_url   # configure as ALSTYLE_API_URL
    srv.alstyle_cart_url  # its cart API beside it, as ALSTYLE_CART_URL derives it when left empty
    srv.kaspi_url     # configure as KASPI_API_URL
                      # (waybill links point below srv.url + /kaspi/waybills, served without a token)
    srv.telegram_url  # configure as TELEGRAM_API_URL (see telegram.py)
    srv.sms_url(code) # the page with the completion code "texted" to the buyer of order `code`
    srv.fetch_feed_every(url, seconds)  # play Kaspi fetching the shop's price list at `url`
    srv.state         # data and knobs, see `SandboxState`
    srv.stop()

Standard library only; the state lives in memory and is gone when the server stops.
"""

import logging
import random
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from . import alstyle, data, kaspi, telegram
from .state import SandboxState
from .wire import Request, json_response

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ALSTYLE_ROOT = "/alstyle/api"
ALSTYLE_CART_ROOT = "/alstyle/cart-api"  # beside the catalogue, as Al-Style has it
KASPI_ROOT = "/kaspi/shop/api/v2"
WAYBILLS_ROOT = data.WAYBILLS_ROOT  # Kaspi Delivery's waybill PDFs, opened by a person's browser
TELEGRAM_ROOT = "/telegram"
# Kaspi's fetcher does not announce itself in any documented way; this one says what it is.
KASPI_FETCHER_AGENT = "KaspiSandbox/1.0 (the sandbox plays Kaspi fetching the price list)"
FETCH_RETRY_SECONDS = 10  # the shop's web server may still be starting
FETCH_TIMEOUT = 30
ROUTES = (
    (ALSTYLE_ROOT, alstyle.handle),
    (ALSTYLE_CART_ROOT, alstyle.handle_cart),
    (KASPI_ROOT, kaspi.handle),
    (WAYBILLS_ROOT, kaspi.handle_waybill),
    (kaspi.SMS_ROOT, kaspi.handle_sms),
    (TELEGRAM_ROOT, telegram.handle),
)


class SandboxServer:
    def __init__(
        self,
        port=0,
        products=3000,
        orders=300,
        order_days=60,
        interval=0.0,
        alstyle_token="sandbox-alstyle-token",
        kaspi_token="sandbox-kaspi-token",
        fail_rate=0.0,
        seed=42,
        order_every=None,
    ):
        self.order_every = order_every  # seconds between new orders while running, like real buyers
        self._buyers_rng = random.Random(f"{seed}-buyers")
        # Bound first, so the port (and the URLs) are known before start(), and to the state's links.
        self._httpd = _HTTPServer((HOST, port), _Handler)
        self._httpd.sandbox = self
        self.state = SandboxState(
            products=products,
            orders=orders,
            order_days=order_days,
            interval=interval,
            alstyle_token=alstyle_token,
            kaspi_token=kaspi_token,
            fail_rate=fail_rate,
            seed=seed,
            site=self.url,
        )
        telegram.prepare(self.state)
        self._thread = None

    @property
    def url(self):
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    @property
    def alstyle_url(self):
        return self.url + ALSTYLE_ROOT

    @property
    def alstyle_cart_url(self):
        return self.url + ALSTYLE_CART_ROOT

    @property
    def kaspi_url(self):
        return self.url + KASPI_ROOT

    @property
    def telegram_url(self):
        return self.url + TELEGRAM_ROOT

    def sms_url(self, order_code):
        return f"{self.url}{kaspi.SMS_ROOT}/{quote(order_code, safe='')}"

    def fetch_feed_every(self, url, seconds):
        """Fetch the price list at `url` now and then, as Kaspi does once the seller cabinet has the URL."""
        threading.Thread(target=self._kaspi_fetches, args=(url, seconds), name="sandbox-kaspi-fetches",
                         daemon=True).start()

    def _kaspi_fetches(self, url, seconds):
        wait = FETCH_RETRY_SECONDS
        while not self.state.sleep_until_stopped(wait):
            wait = seconds
            request = urllib.request.Request(url, headers={"User-Agent": KASPI_FETCHER_AGENT})
            try:
                with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                log.info("sandbox: the feed answered HTTP %s", exc.code)  # the shop recorded it: Kaspi comes again
            except OSError as exc:
                log.info("sandbox: could not fetch the feed: %s", exc)
                wait = FETCH_RETRY_SECONDS

    def start(self):
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
        )
        self._thread.start()
        if self.order_every:
            threading.Thread(target=self._buyers, name="sandbox-buyers", daemon=True).start()
        return self

    def _buyers(self):
        """Life goes on: each period a new order; now and then a buyer undoes one; couriers collect parcels."""
        while not self.state.sleep_until_stopped(self.order_every):
            with self.state.lock:
                now = data.to_ms(data.now_utc())
                self.state.add_random_order()
                data.change_of_mind(self._buyers_rng, self.state.kaspi_orders, now)
                data.hand_over_due(self.state.kaspi_orders, now)

    def stop(self):
        self.state.wake_sleepers()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def answer(self, *, method, target, headers, body):
        """Route one HTTP request to the API its path names; a `Response` comes back."""
        url = urlsplit(target)
        for root, handle in ROUTES:
            if url.path == root or url.path.startswith(root + "/"):
                request = _request(method, url, root, headers, body)
                with self.state.lock:
                    return handle(self.state, request)
        where = f"{ALSTYLE_ROOT}, {ALSTYLE_CART_ROOT} and {KASPI_ROOT}"
        return json_response({"message": f"Nothing here; the APIs live under {where}"}, 404)


def _request(method, url, root, headers, body):
    below_root = url.path[len(root):]
    params = {name: values[-1] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
    return Request(
        method=method,
        path=unquote(below_root),
        # Split before decoding: an id with an encoded "/" or "=" stays one segment.
        segments=[unquote(part) for part in below_root.split("/") if part],
        params=params,
        headers=headers,
        body=body,
        root=f"http://{headers.get('Host') or HOST}{root}",
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout, dropped request) is business as usual here, not an error.
        log.debug("sandbox: connection from %s ended early", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client waits ~40 ms for each.
    disable_nagle_algorithm = True

    def do_GET(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sandbox = self.server.sandbox
        response = sandbox.answer(method=self.command, target=self.path, headers=self.headers, body=body)
        sandbox.state.sleep(response.delay)
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format, *args):
        log.debug("sandbox: " + format, *args)
