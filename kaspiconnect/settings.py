"""Settings, all read from the environment (and `.env` when present) in this one place.

A malformed value stops start-up with a message that names the variable; a missing API token
only fails the command that needs it, with a message naming the variable.
"""

import re
import secrets
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.checks.security.base import _check_secret_key
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = BASE_DIR / ".env"
TESTING = "pytest" in sys.modules
if ENV_FILE.exists():
    env.read_env(str(ENV_FILE))
elif not TESTING and not env.bool("KASPICONNECT_QUIET", default=False):
    print("warning: no .env file, using defaults (see .env.example)", file=sys.stderr)

# Secrets may come from files (Docker and compose secrets, a vault agent): NAME_FILE holds the
# path of a file whose content is NAME. A value set directly wins.
SECRETS_FROM_FILES = [
    "SECRET_KEY", "ALSTYLE_TOKEN", "KASPI_TOKEN", "FEED_TOKEN", "FEED_TOKEN_PREVIOUS", "TELEGRAM_BOT_TOKEN",
    "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEYS",
]
for _name in SECRETS_FROM_FILES:
    _path = env.ENVIRON.get(f"{_name}_FILE")
    if _path and not env.ENVIRON.get(_name):
        try:
            env.ENVIRON[_name] = Path(_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{_name}_FILE cannot be read: {exc}") from None


def _read(name, cast, default, valid=None, expected=""):
    """Read one variable; a value that does not parse or pass `valid` stops start-up, named."""
    try:
        value = cast(name, default=default)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
    if valid is not None and not valid(value):
        raise ImproperlyConfigured(f"{name} is malformed: expected {expected}, got {value!r}")
    return value


def _strict_bool(name, default):
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _database(name, default):
    scheme = env.str(name, default=default).split(":", 1)[0]
    if scheme not in environ.Env.DB_SCHEMES:
        raise ValueError(f"unknown database scheme {scheme!r}")
    return env.db_url(name, default=default)


def _url(name, default):
    url = _read(name, env.str, default, lambda v: re.match(r"^https?://[^\s/]+", v), "an http(s) URL")
    return url.rstrip("/")


def _development(debug):
    """DEBUG on, the demo or the tests: a start that may make its own secrets."""
    return debug or TESTING or env.bool("KASPICONNECT_DEMO", default=False)


def _secret_key(debug):
    """SECRET_KEY from the environment. Only a development start (DEBUG on, the demo, the tests) may
    go without one: it then keeps a random key in var/secret_key so that sessions survive restarts.
    A real start refuses a missing or weak key, by Django's own test (50+ characters, 5+ distinct)."""
    value = _read("SECRET_KEY", env.str, "")
    development = _development(debug)
    if not value and not development:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: put a random one in .env (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))') or name a file in SECRET_KEY_FILE; every web machine "
            "needs the same one. An installation that kept its key in var/secret_key keeps its sessions "
            "with SECRET_KEY_FILE=var/secret_key."
        )
    if value:
        if not development and not _check_secret_key(value):
            raise ImproperlyConfigured(
                "SECRET_KEY is weak: use at least 50 random characters with at least 5 different ones, "
                "not starting with 'django-insecure-' (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
            )
        return value
    return _kept_in_var("secret_key", lambda: secrets.token_urlsafe(50))


def _kept_in_var(name, make):
    """A development start's own secret, made once and kept in var/ (beside the demo's database)."""
    path = BASE_DIR / "var" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _encryption_keys(development):
    """The Fernet keys of the customers' data, the one that encrypts first: FIELD_ENCRYPTION_KEYS=new,old
    while a rotation runs, else FIELD_ENCRYPTION_KEY. A development start without one keeps its own in
    var/field_encryption_key; a real start refuses, since data written under a lost key is lost with it."""
    name = "FIELD_ENCRYPTION_KEYS" if env.str("FIELD_ENCRYPTION_KEYS", default="") else "FIELD_ENCRYPTION_KEY"
    keys = [key for key in _read(name, env.list, []) if key]
    if not keys and not development:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is not set: the customers' names, phones and addresses are encrypted with it. "
            "Make one (python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'), "
            "put it in .env or name a file in FIELD_ENCRYPTION_KEY_FILE, and keep a copy apart from the database "
            "and its backups: without the key the data cannot be read."
        )
    keys = keys or [_kept_in_var("field_encryption_key", lambda: Fernet.generate_key().decode())]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} is malformed: expected Fernet keys, each 32 random bytes in URL-safe base64 "
                "(44 characters, as Fernet.generate_key() makes it), the new one first"
            ) from None
    return keys


DEBUG = _read("DEBUG", _strict_bool, False)
SECRET_KEY = _secret_key(DEBUG)
FIELD_ENCRYPTION_KEYS = _encryption_keys(_development(DEBUG))
ALLOWED_HOSTS = _read("ALLOWED_HOSTS", env.list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _read("CSRF_TRUSTED_ORIGINS", env.list, [])

# --- HTTPS (see .env.example for the values behind a proxy that ends TLS) -----------------------
SECURE_SSL_REDIRECT = _read("SECURE_SSL_REDIRECT", _strict_bool, False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's health check may come over plain HTTP
SECURE_PROXY_SSL_HEADER = _read(
    "SECURE_PROXY_SSL_HEADER", env.tuple, None, lambda v: v is None or len(v) == 2,
    "a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https",
)
SECURE_HSTS_SECONDS = _read("SECURE_HSTS_SECONDS", env.int, 0, lambda v: v >= 0, "seconds >= 0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = _read("SECURE_HSTS_INCLUDE_SUBDOMAINS", _strict_bool, False)
SECURE_HSTS_PRELOAD = _read("SECURE_HSTS_PRELOAD", _strict_bool, False)
SESSION_COOKIE_SECURE = _read("SESSION_COOKIE_SECURE", _strict_bool, False)
CSRF_COOKIE_SECURE = _read("CSRF_COOKIE_SECURE", _strict_bool, False)

# --- the two APIs -------------------------------------------------------------------------------
ALSTYLE_API_URL = _url("ALSTYLE_API_URL", "https://api.al-style.kz/api")
# The cart and order submission live beside the catalogue (…/cart-api next to …/api). Empty: the
# client derives it from the API URL it uses (catalog.alstyle.cart_url_for), so pointing
# ALSTYLE_API_URL at another server (the sandbox) moves the cart with it.
ALSTYLE_CART_URL = _read(
    "ALSTYLE_CART_URL", env.str, "", lambda v: not v or re.match(r"^https?://[^\s/]+", v), "an http(s) URL or nothing"
).rstrip("/")
if not ALSTYLE_CART_URL and not re.search(r"://[^/]+/(.+/)?api$", ALSTYLE_API_URL):
    raise ImproperlyConfigured(
        "ALSTYLE_CART_URL is not set and cannot be derived: ALSTYLE_API_URL does not end in /api "
        f"({ALSTYLE_API_URL!r}); set ALSTYLE_CART_URL to the cart API's address"
    )
ALSTYLE_TOKEN = _read("ALSTYLE_TOKEN", env.str, "")
ALSTYLE_MIN_INTERVAL = _read(
    "ALSTYLE_MIN_INTERVAL", env.float, 5.0, lambda v: v >= 0, "a number of seconds >= 0"
)
KASPI_API_URL = _url("KASPI_API_URL", "https://kaspi.kz/shop/api/v2")
KASPI_TOKEN = _read("KASPI_TOKEN", env.str, "")
# Kaspi documents no rate limit and asks integrators to poll politely: a few requests a second at most.
KASPI_MIN_INTERVAL = _read("KASPI_MIN_INTERVAL", env.float, 0.25, lambda v: v >= 0, "a number of seconds >= 0")
KASPI_MERCHANT_ID = _read("KASPI_MERCHANT_ID", env.str, "")
KASPI_COMPANY = _read("KASPI_COMPANY", env.str, "")
# The project's own sandbox, set by `manage.py demo` only: while KASPI_API_URL points into it, the
# admin links to the sandbox's pages (what it "texted" buyers). Empty in a real setup.
SANDBOX_URL = _read(
    "SANDBOX_URL", env.str, "", lambda v: not v or re.fullmatch(r"https?://[^\s/]+", v),
    "http(s)://host:port or nothing",
)
HTTP_TIMEOUT = _read("HTTP_TIMEOUT", env.float, 30.0, lambda v: v > 0, "seconds > 0")
HTTP_RETRIES = _read("HTTP_RETRIES", env.int, 4, lambda v: 0 <= v <= 10, "0 to 10")
HTTP_BACKOFF = _read("HTTP_BACKOFF", env.float, 2.0, lambda v: v >= 0, "seconds >= 0")
# Each call, its retries, backoff and rate-limit waits included, ends within this many seconds.
HTTP_TIME_BUDGET = _read("HTTP_TIME_BUDGET", env.float, 90.0, lambda v: v > 0, "seconds > 0")
HTTP_USER_AGENT = "kaspiconnect/1.0 (+https://github.com/kaspiconnect)"

# --- catalogue and pricing ----------------------------------------------------------------------
SKU_PREFIX = _read(
    "SKU_PREFIX", env.str, "", lambda v: re.fullmatch(r"[A-Za-z0-9]{0,8}", v), "up to 8 Latin letters and digits"
)
# What the supplier's ">N" stock means here; empty: N itself.
STOCK_MORE_THAN = _read("STOCK_MORE_THAN", env.int, None, lambda v: v is None or v >= 0, "an integer >= 0")
# A rule price that moves more than this from the published one waits for a manager.
PRICE_GUARD_PERCENT = _read("PRICE_GUARD_PERCENT", env.int, 30, lambda v: v > 0, "a percent > 0")
# Hiding more products than this at once from the product list asks for a confirmation first.
BULK_HIDE_CONFIRM_OVER = _read("BULK_HIDE_CONFIRM_OVER", env.int, 20, lambda v: v >= 0, "an integer >= 0")

# --- money --------------------------------------------------------------------------------------
# Kaspi's commission (VAT included) for a category the commission table does not list: 12.5 % is
# the 2026 tariff of nearly every category.
KASPI_COMMISSION_PERCENT = _read("KASPI_COMMISSION_PERCENT", env.float, 12.5, lambda v: 0 <= v <= 50,
                                 "a percent from 0 to 50")

# --- feed ---------------------------------------------------------------------------------------
FEED_TOKEN = _read(
    "FEED_TOKEN",
    env.str,
    "",
    lambda v: re.fullmatch(r"([A-Za-z0-9_-]{16,128})?", v),
    "16-128 characters of A-Z a-z 0-9 _ -",
)
# While the URL in Kaspi's cabinet is being changed to a new FEED_TOKEN, the old one keeps working.
FEED_TOKEN_PREVIOUS = _read(
    "FEED_TOKEN_PREVIOUS",
    env.str,
    "",
    lambda v: re.fullmatch(r"([A-Za-z0-9_-]{16,128})?", v),
    "16-128 characters of A-Z a-z 0-9 _ -",
)
FEED_DIR = Path(_read("FEED_DIR", env.str, "") or BASE_DIR / "var" / "feeds")  # empty: the default
# A build that loses more than this share of available offers is held back (supplier outage).
FEED_MAX_DROP_PERCENT = _read("FEED_MAX_DROP_PERCENT", env.int, 30, lambda v: 0 <= v <= 100, "0 to 100")
FEED_MODEL_MAX_LENGTH = 255
# Job locks on SQLite (PostgreSQL uses advisory locks); default var/ in the project folder.
STATE_DIR = Path(_read("STATE_DIR", env.str, "") or BASE_DIR / "var")

# --- orders -------------------------------------------------------------------------------------
ORDERS_FIRST_DAYS = _read("ORDERS_FIRST_DAYS", env.int, 14, lambda v: 1 <= v <= 365, "1 to 365 days")
ORDERS_OVERLAP_MINUTES = _read("ORDERS_OVERLAP_MINUTES", env.int, 60, lambda v: v >= 0, "minutes >= 0")
# Unfinished orders older than the 14 days each import re-reads are read by number this often.
ORDERS_STALE_REFRESH_HOURS = _read("ORDERS_STALE_REFRESH_HOURS", env.float, 6, lambda v: 0 < v <= 720,
                                   "hours from 0 to 720")
# Four-eyes rule: the person who requests a status change may not approve it.
ORDERS_FOUR_EYES = _read("ORDERS_FOUR_EYES", _strict_bool, False)
STATUS_MAX_ATTEMPTS = _read("STATUS_MAX_ATTEMPTS", env.int, 5, lambda v: 1 <= v <= 50, "1 to 50")

# --- purchasing (supplier orders at Al-Style) ---------------------------------------------------
# A cart price above the expected one by more than this stops the order for a decision.
SUPPLIER_PRICE_TOLERANCE_PERCENT = _read("SUPPLIER_PRICE_TOLERANCE_PERCENT", env.float, 3.0,
                                         lambda v: 0 <= v <= 100, "a percent from 0 to 100")
# Proposals are approved (and sent) without a person: off unless the shop trusts them.
SUPPLIER_AUTO_APPROVE = _read("SUPPLIER_AUTO_APPROVE", _strict_bool, False)
# The shipping date asked for: this many working days (Monday to Friday) after the day it is sent.
SUPPLIER_SHIPPING_DAYS = _read("SUPPLIER_SHIPPING_DAYS", env.int, 1, lambda v: 0 <= v <= 30, "0 to 30 days")

# --- alerts (monitoring.alerts): each channel is optional -------------------------------------
TELEGRAM_BOT_TOKEN = _read("TELEGRAM_BOT_TOKEN", env.str, "")
TELEGRAM_CHAT_ID = _read(
    "TELEGRAM_CHAT_ID", env.str, "", lambda v: re.fullmatch(r"(-?\d+|@\w{5,})?", v), "a chat id or @channel"
)
TELEGRAM_API_URL = _url("TELEGRAM_API_URL", "https://api.telegram.org")
ALERT_EMAILS = _read("ALERT_EMAILS", env.list, [], lambda v: all("@" in a for a in v), "e-mail addresses")
# Sets EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS/SSL.
globals().update(_read("EMAIL_URL", env.email_url, "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = SERVER_EMAIL = _read("DEFAULT_FROM_EMAIL", env.str, "kaspiconnect@localhost")
EMAIL_TIMEOUT = HTTP_TIMEOUT

# --- schedules (minutes) ------------------------------------------------------------------------
def _minutes(name, default):
    return _read(name, env.int, default, lambda v: 1 <= v <= 10080, "minutes from 1 to 10080")


STOCK_REFRESH_MINUTES = _minutes("STOCK_REFRESH_MINUTES", 30)  # the cheap quantity-price call
CATALOG_SYNC_MINUTES = _minutes("CATALOG_SYNC_MINUTES", 1440)  # the full catalogue, daily
FEED_BUILD_MINUTES = _minutes("FEED_BUILD_MINUTES", 15)  # also after every supplier sync
ORDERS_SYNC_MINUTES = _minutes("ORDERS_SYNC_MINUTES", 5)
STATUS_PUSH_MINUTES = _minutes("STATUS_PUSH_MINUTES", 2)  # approved changes also go at once
ALERT_CHECK_MINUTES = _minutes("ALERT_CHECK_MINUTES", 5)
SUPPLIER_SYNC_MINUTES = _minutes("SUPPLIER_SYNC_MINUTES", 10)  # also after every order import

# How often Kaspi is expected to fetch the feed (set in the Kaspi seller cabinet: every 30 to 60
# minutes): the dashboard and the alerts call it late after two of these, failing after three.
FEED_FETCH_MINUTES = _minutes("FEED_FETCH_MINUTES", 60)

# Variables that no longer do anything, and what took their place; still set, they get a warning
# at start-up (kaspiconnect.checks). Each job's late and failing thresholds follow from its interval.
_BY_INTERVAL = "each job is late and failing after its own interval (see jobs/registry.py)"
REMOVED_SETTINGS = {
    **{f"DASHBOARD_{job}_{colour}_HOURS": _BY_INTERVAL
       for job in ("CATALOG", "FEED_BUILD", "ORDERS") for colour in ("AMBER", "RED")},
    "DASHBOARD_FEED_FETCH_AMBER_HOURS": "FEED_FETCH_MINUTES",
    "DASHBOARD_FEED_FETCH_RED_HOURS": "FEED_FETCH_MINUTES",
    "ALERT_FEED_FETCH_HOURS": "FEED_FETCH_MINUTES",
    "ALERT_FAILURES_IN_A_ROW": "an alert as soon as a job is failing, the dashboard's red",
}
REMOVED_SETTINGS_SET = sorted(name for name in REMOVED_SETTINGS if name in env.ENVIRON)

# --- Django -------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "axes",  # login throttling and lockout
    "import_export",  # spreadsheets in and out of the admin
    "kaspiconnect",
    "jobs",
    "catalog",
    "orders",
    "feeds",
    "purchasing",  # supplier orders at Al-Style: above catalog and orders
    "monitoring",  # dashboard, alerts, health: above the apps
    "reports",  # sales reports: above the apps, reads orders
    "sandbox",  # the simulated APIs and their command (demo and tests)
]
# Spreadsheets: whoever may see products may export them; importing changes them, so it takes the change right.
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"

MIDDLEWARE = [
    "kaspiconnect.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, compressed and hashed, from any WSGI server
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kaspiconnect.middleware.RefusalLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# --- logins: lockout after repeated failures, per user and per address (django-axes, in the
# database, so it holds across web processes and machines) ---------------------------------------
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = _read("LOGIN_FAILURE_LIMIT", env.int, 5, lambda v: 1 <= v <= 100, "1 to 100")
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: a user, or an address
# 0: locked until an admin unlocks (Access attempts page, or manage.py axes_reset_username NAME).
_LOCKOUT_MINUTES = _read("LOGIN_LOCKOUT_MINUTES", env.int, 0, lambda v: v >= 0, "minutes >= 0")
AXES_COOLOFF_TIME = timedelta(minutes=_LOCKOUT_MINUTES) if _LOCKOUT_MINUTES else None
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "common.net.client_ip"
# Behind N reverse proxies the client's address is the Nth from the right of X-Forwarded-For.
PROXY_COUNT = _read("PROXY_COUNT", env.int, 0, lambda v: 0 <= v <= 5, "0 to 5")

ROOT_URLCONF = "kaspiconnect.urls"
WSGI_APPLICATION = "kaspiconnect.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": _read("DATABASE_URL", _database, "sqlite:///" + str(BASE_DIR / "db.sqlite3"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and immediate transactions let the web server and the queue workers share one file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = _read("LANGUAGE_CODE", env.str, "ru", lambda v: v in ("ru", "en"), "ru or en")
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Almaty"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(_read("STATIC_ROOT", env.str, "") or BASE_DIR / "var" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached forever by browsers) and gzip/brotli copies, made by collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- the web server (gunicorn.conf.py reads these; `manage.py serve` starts it) ----------------
GUNICORN_BIND = _read("GUNICORN_BIND", env.str, "127.0.0.1:8000")
GUNICORN_WORKERS = _read("GUNICORN_WORKERS", env.int, 2, lambda v: 1 <= v <= 64, "1 to 64")
GUNICORN_TIMEOUT = _read("GUNICORN_TIMEOUT", env.int, 60, lambda v: 5 <= v <= 3600, "seconds from 5 to 3600")

# --- queue --------------------------------------------------------------------------------------
REDIS_URL = _read("REDIS_URL", env.str, "")
Q_CLUSTER = {
    "name": "kaspiconnect",
    "ALT_CLUSTERS": {},  # django-q2 expects it when Q_CLUSTER_NAME picks a separate queue
    "workers": _read("Q_WORKERS", env.int, 2),
    "timeout": 3600,  # the longest job, a full catalogue at 5 s a page, must fit
    "retry": 3660,  # above timeout, or a slow job would be handed out twice
    "max_attempts": 2,
    "catch_up": False,
    "save_limit": 500,
    "label": _("Task queue"),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    # The database broker keeps cluster heartbeats in a Django cache. The default cache lives in each
    # process's memory, so /healthz (and qinfo) would never see the cluster: share it in the database.
    Q_CLUSTER["cache"] = "queue"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Its table comes with the migrations (kaspiconnect/migrations/0002_queue_cache.py).
    "queue": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "kaspiconnect_queue_cache"},
}

# --- logging (common.log) ------ -----------------------------------------------------------------
LOG_LEVEL = _read(
    "LOG_LEVEL", env.str, "INFO", lambda v: v.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
    "DEBUG, INFO, WARNING or ERROR",
).upper()
LOG_FORMAT = _read("LOG_FORMAT", env.str, "text", lambda v: v in ("text", "json"), "text or json")
# Tests keep their log file in a temporary folder, never in the repository's logs/.
_LOG_DIR = Path(tempfile.gettempdir()) / "kaspiconnect-test-logs" if "pytest" in sys.modules else BASE_DIR / "logs"
LOG_DIR = Path(_read("LOG_DIR", env.str, "") or _LOG_DIR)
_LOG_FILTERS = ["request_id", "mask_secrets"]
_LOG_HANDLERS = ["console", "file"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "common.log.RequestIdFilter"},
        "mask_secrets": {"()": "common.log.MaskSecretsFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "common.log.JsonFormatter"},
    },
    "handlers": {
        "security_log": {"class": "monitoring.securitylog.SecurityLogHandler", "filters": _LOG_FILTERS},
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": _LOG_FILTERS},
        "file": {
            "class": "common.log.RotatingFileHandler",
            "filename": str(LOG_DIR / "kaspiconnect.log"),
            "maxBytes": 10 * 1024 * 1024,
            "backupCount": 5,
            "encoding": "utf-8",
            "formatter": LOG_FORMAT,
            "filters": _LOG_FILTERS,
        },
    },
    "root": {"handlers": _LOG_HANDLERS, "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts and refusals, not its start-up banner
        # Logins, lockouts, refusals, wrong feed tokens, approvals: the files and the admin's security log.
        "kaspiconnect.security": {"handlers": [*_LOG_HANDLERS, "security_log"], "level": "INFO", "propagate": False},
        # runserver's request lines carry the feed URL, token included: through our masking handlers.
        "django.server": {"handlers": _LOG_HANDLERS, "level": "INFO", "propagate": False},
    },
}
