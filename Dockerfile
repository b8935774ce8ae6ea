# kaspiconnect: the web server (gunicorn, static files by WhiteNoise) or, with another command, the
# queue cluster. compose.yaml runs both with PostgreSQL and Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles \
    FEED_DIR=/app/var/feeds \
    STATE_DIR=/app/var \
    LOG_DIR=/app/logs \
    GUNICORN_BIND=0.0.0.0:8000

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin kaspiconnect

# The same requirements the Makefile installs (`make install`).
COPY requirements.txt .
RUN python -m pip install -r requirements.txt

COPY . .
# Hashed, compressed static files are part of the image. The throwaway keys only let the settings load
# for this one command: given, neither the secret key nor the customer-data key is written into the
# image (a development start would keep generated ones in var/), and the data key lives only here.
RUN FIELD_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    DEBUG=true SECRET_KEY=only-for-collectstatic KASPICONNECT_QUIET=1 python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var/feeds /app/logs \
    && chown -R kaspiconnect:kaspiconnect /app/var /app/logs

USER kaspiconnect
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["gunicorn", "kaspiconnect.wsgi"]
