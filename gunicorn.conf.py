"""gunicorn's settings, taken from the project's own (GUNICORN_* in .env): `.venv/bin/gunicorn
kaspiconnect.wsgi` serves the whole site, static files included (WhiteNoise), after collectstatic."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kaspiconnect.settings")

from django.conf import settings  # noqa: E402  (the settings module needs the variable above)

wsgi_app = "kaspiconnect.wsgi:application"
bind = settings.GUNICORN_BIND
workers = settings.GUNICORN_WORKERS
timeout = settings.GUNICORN_TIMEOUT
graceful_timeout = 30
# No access log: a request line carries the feed's secret URL. Django logs what goes wrong, masked.
accesslog = None
errorlog = "-"
