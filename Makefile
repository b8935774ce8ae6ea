# kaspiconnect — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_ENV := KASPICONNECT_DEMO=1 DATABASE_URL=sqlite:///var/demo.sqlite3 FEED_DIR=var/demo-feeds
# The concurrency tests run a second time against a real PostgreSQL (and Redis) when reachable.
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: install install-dev browser demo run lint test test-slow screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed  ## virtualenv and runtime requirements only

install-dev: $(VENV)/.installed-dev

# The browser test drives the system's Chromium (never a downloaded one); install it where we can.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser test"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
				|| echo "chromium could not be installed: the browser test will be skipped"; \
		else \
			echo "no chromium and no root apt-get: the browser test will be skipped"; \
		fi; \
	}

demo: install  ## everything on this machine: sandbox APIs, admin, feed, queue; Ctrl-C stops it
	mkdir -p var
	$(DEMO_ENV) $(PY) manage.py demo

run: install  ## the real APIs, configured by .env: gunicorn, WhiteNoise and the queue cluster
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py setup_schedules
	$(PY) manage.py serve

lint: install-dev
	$(VENV)/bin/ruff check .

test: install-dev browser lint
	$(PY) -m pytest
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -m postgres; \
	else \
		echo "PostgreSQL at $(PG_TEST_URL) is not reachable: the PostgreSQL concurrency tests were skipped"; \
	fi

test-slow: install-dev  ## the crash tests: real processes killed in the middle of their work
	$(PY) -m pytest -m slow

screenshots: install-dev browser  ## refresh the README's screenshots in docs/ from the browser test
	SCREENSHOT_DIR=docs $(PY) -m pytest tests/test_browser.py

clean:
	rm -rf $(VENV) var .pytest_cache
