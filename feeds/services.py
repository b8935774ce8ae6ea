"""Build the Kaspi price list: stream offers into XML, validate it, guard it, publish it atomically.

Every build leaves one FeedRun row. The view only serves what the last published run left in
FEED_DIR, so a failed, invalid or held build leaves Kaspi with the previous good feed.
"""

import gzip
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from lxml import etree

from catalog.offers import OfferError, iter_offers
from jobs import registry
from jobs.health import Evidence
from jobs.locks import job_lock
from jobs.runs import locked_run
from orders.stock import reserved_quantities

from .models import FeedFetch, FeedRun
from .validation import validate_file

logger = logging.getLogger(__name__)

FEED_NAME = "kaspi.xml"
GZIP_NAME = "kaspi.xml.gz"
# sku → price, stock, available of the published offers, to tell the next run what changed.
SNAPSHOT_NAME = "kaspi-offers.sqlite3"
NAMESPACE = "kaspiShopping"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = "kaspiShopping http://kaspi.kz/kaspishopping.xsd"
ALMATY = ZoneInfo("Asia/Almaty")  # Kaspi reads the feed's date as Almaty time
SAMPLE_SIZE = 10
JOB = "build_feed"
FETCH_OK = [200, 304]  # Kaspi got the feed, or was told it has not changed

# Each change kind: the columns its sample shows, and the rows it counts (new offers vs `old`).
_CHANGES = {
    "added": ("n.sku", "from offer n where n.sku not in (select sku from old.offer)"),
    "removed": ("o.sku", "from old.offer o where o.sku not in (select sku from offer)"),
    "price_changes": (
        "n.sku, o.price, n.price", "from offer n join old.offer o using (sku) where n.price != o.price"
    ),
    "stock_changes": (
        "n.sku, o.stock, n.stock",
        "from offer n join old.offer o using (sku) where n.stock != o.stock or n.available != o.available",
    ),
}


class FeedError(Exception):
    """The feed cannot be built as configured; the message becomes the run's reason."""


def published_run():
    return FeedRun.objects.filter(outcome=FeedRun.Outcome.PUBLISHED).order_by("-started").first()


def feed_build(*, dry_run=False, force=False, user=None) -> FeedRun:
    """Build and validate the feed; publish it unless `dry_run`, or the safety guard says no and not `force`.

    One build at a time (admin button vs schedule, across machines on PostgreSQL), so the newest
    published row describes the served file; a second one raises `JobBusy`. A build that was meant
    to publish is a run of the job `build_feed`: its JobRun fails when nothing was published. A dry
    run publishes nothing and says nothing about the job's health, so it leaves only its FeedRun.
    """
    if dry_run:
        with job_lock(registry.get(JOB).lock):
            return _feed_run(dry_run=True, force=force, user=user)
    with locked_run(JOB) as job:
        run = _feed_run(dry_run=False, force=force, user=user, job=job)
        job.received, job.created, job.updated = run.offers, run.added, run.price_changes + run.stock_changes
        if run.outcome != FeedRun.Outcome.PUBLISHED:
            job.fail(f"{run.get_outcome_display()}: {run.reason}")
    return run


def _feed_run(*, dry_run, force, user, job=None):
    run = FeedRun(started=timezone.now(), forced=force, user=user, job_run=job)
    try:
        Path(settings.FEED_DIR).mkdir(parents=True, exist_ok=True)
        _remove_abandoned_builds()
        with tempfile.TemporaryDirectory(dir=settings.FEED_DIR, prefix=".build-") as work:
            _build(run, Path(work), dry_run=dry_run, force=force)
    except (FeedError, OfferError) as exc:
        run.outcome, run.reason = FeedRun.Outcome.FAILED, str(exc)
    except Exception as exc:
        logger.exception("feed build failed")
        run.outcome, run.reason = FeedRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}"
    run.finished = timezone.now()
    run.duration_ms = (run.finished - run.started) // timedelta(milliseconds=1)
    run.save()
    return run


def _remove_abandoned_builds():
    """Work folders of builds whose process died; with the build lock held, none is in use."""
    for folder in Path(settings.FEED_DIR).glob(".build-*"):
        shutil.rmtree(folder, ignore_errors=True)


def fetch_evidence(job):
    """What Kaspi's fetches say, for the registry's `feed_fetched` expectation: nothing is expected
    before the first publication; a fetch answered other than 200 or 304 is a failure. A person
    checking the URL in a browser or signed in counts for nothing, either way."""
    first = (FeedRun.objects.filter(outcome=FeedRun.Outcome.PUBLISHED, finished__isnull=False)
             .order_by("started").values_list("finished", flat=True).first())
    if first is None:
        return Evidence()  # nothing to fetch yet
    fetches = FeedFetch.objects.by_kaspi()
    last_ok = fetches.filter(status__in=FETCH_OK).order_by("-at").values_list("at", flat=True).first()
    failed = fetches.exclude(status__in=FETCH_OK).filter(at__gte=first)
    if last_ok:
        failed = failed.filter(at__gt=last_ok)
    streak = failed.count()
    latest = failed.order_by("-at").values_list("status", flat=True).first() if streak else None
    error = _("Kaspi got HTTP %(status)s") % {"status": latest} if latest else ""
    return Evidence(last_ok=last_ok, streak=streak, last_error=error, since=first)


def _build(run, work, *, dry_run, force):
    header = {"company": _required("KASPI_COMPANY"), "merchantid": _required("KASPI_MERCHANT_ID")}
    reserved = reserved_quantities()
    run.reserved_units = sum(reserved.values())
    feed = work / FEED_NAME
    with closing(_new_snapshot(work / SNAPSHOT_NAME)) as snapshot:
        written = _write_feed(feed, snapshot, iter_offers(reserved=reserved), date=run.started, header=header)
        run.offers, run.available_offers = snapshot.execute(
            "select count(*), coalesce(sum(available), 0) from offer"
        ).fetchone()
        _count_changes(run, snapshot, Path(settings.FEED_DIR) / SNAPSHOT_NAME)
    if reserved:
        largest = sorted(reserved.items(), key=lambda item: (-item[1], item[0]))[:SAMPLE_SIZE]
        run.change_sample = {**run.change_sample, "reserved": dict(largest)}
    run.bytes = feed.stat().st_size
    with open(feed, "rb") as data:
        run.sha256 = hashlib.file_digest(data, "sha256").hexdigest()

    # The snapshot's primary key has already counted the distinct SKUs: only when one repeats does
    # the schema need its own uniqueness check, which holds every SKU in memory.
    errors = validate_file(feed, unique_skus=written != run.offers)
    run.valid, run.validation_errors = not errors, "\n".join(errors)
    if errors:
        run.outcome = FeedRun.Outcome.INVALID
        run.reason = ngettext("The feed does not match the schema (%(count)d error), first: %(error)s",
                              "The feed does not match the schema (%(count)d errors), first: %(error)s",
                              len(errors)) % {
            "count": len(errors), "error": errors[0],
        }
        return
    # A dry run and an overridden guard keep what the guard said, for the record.
    run.reason = _guard_reason(run)
    if dry_run:
        run.outcome = FeedRun.Outcome.DRY_RUN
    elif run.reason and not force:
        run.outcome = FeedRun.Outcome.HELD
    else:
        _publish(work)
        run.outcome = FeedRun.Outcome.PUBLISHED


def _required(name):
    value = getattr(settings, name)
    if not value:
        raise FeedError(_("%(name)s is not set") % {"name": name})
    return value


def _write_feed(path, snapshot, offers, *, date, header):
    """Stream the offers into `path` (flat memory), recording each one in `snapshot`; return how many."""
    root_attributes = {
        "date": timezone.localtime(date, ALMATY).strftime("%Y-%m-%dT%H:%M:%S"),
        f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION,
    }
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{NAMESPACE}}}kaspi_catalog", root_attributes, nsmap={None: NAMESPACE, "xsi": XSI}):
            xf.write("\n")
            for tag, text in header.items():
                xf.write(_element(tag, text), "\n")
            with xf.element("offers"):
                xf.write("\n")
                insert = "insert or replace into offer values (?, ?, ?, ?)"
                written = snapshot.executemany(insert, _write_offers(xf, offers)).rowcount
            xf.write("\n")
    snapshot.commit()
    return written


def _write_offers(xf, offers):
    """Write each offer, one per line (validation errors then point at it); yield its snapshot row."""
    element = _OfferElement()
    for offer in offers:
        xf.write(element.fill(offer), "\n")
        yield offer.sku, offer.price, offer.stock, offer.available


class _OfferElement:
    """One <offer> element, refilled for each offer and written: creating half a dozen lxml elements
    per offer cost more than the rest of the build. Optional parts come and go as each offer needs.

    Its elements have no namespace: written inside the root, they take its default namespace
    (kaspiShopping) without repeating the xmlns declaration on every offer.
    """

    def __init__(self):
        self.element = etree.Element("offer")
        self.model = etree.SubElement(self.element, "model")
        self.brand = etree.Element("brand")
        self.stores = etree.SubElement(self.element, "availabilities")
        self.price = etree.SubElement(self.element, "price")
        self.cities = etree.Element("cityprices")

    def fill(self, offer):
        self.element.set("sku", offer.sku)
        self.model.text = offer.model
        self.brand.text = offer.brand
        _attach(self.brand, bool(offer.brand), after=self.model)
        stores = _children(self.stores, "availability", len(offer.availabilities))
        for node, availability in zip(stores, offer.availabilities):
            node.attrib.clear()  # keeps the attributes in Kaspi's order, and no preOrder left over
            node.set("available", "yes" if availability.available else "no")
            node.set("storeId", availability.store_id)
            if availability.preorder:
                node.set("preOrder", str(availability.preorder))
            node.set("stockCount", str(availability.stock))
        self.price.text = str(offer.price)
        _attach(self.price, not offer.city_prices, after=self.stores)
        _attach(self.cities, bool(offer.city_prices), after=self.stores)
        cities = _children(self.cities, "cityprice", len(offer.city_prices))
        for node, (city_id, price) in zip(cities, offer.city_prices):
            node.set("cityId", city_id)
            node.text = str(price)
        return self.element


def _attach(node, wanted, *, after):
    if wanted and node.getparent() is None:
        after.addnext(node)
    elif not wanted and node.getparent() is not None:
        node.getparent().remove(node)


def _children(parent, tag, count):
    """`parent`, holding exactly `count` children named `tag`."""
    if len(parent) != count:
        del parent[:]
        while len(parent) < count:
            etree.SubElement(parent, tag)
    return parent


def _element(tag, text):
    element = etree.Element(tag)
    element.text = str(text)
    return element


def _new_snapshot(path):
    snapshot = sqlite3.connect(path)
    # A scratch file until it is published: nothing to roll back to, nothing to sync.
    snapshot.execute("pragma journal_mode = off")
    snapshot.execute("pragma synchronous = off")
    # A repeated SKU replaces the first (and shows in the count): the schema reports it, with its line.
    snapshot.execute(
        "create table offer (sku text primary key, price integer, stock integer, available integer) without rowid"
    )
    return snapshot


def _count_changes(run, snapshot, previous):
    """Compare with the last published offers: counts on the run, a few examples of each kind."""
    if not previous.exists():
        run.added = run.offers
        return
    snapshot.execute("attach database ? as old", (str(previous),))
    run.change_sample = {}
    for field, (columns, rows) in _CHANGES.items():
        setattr(run, field, snapshot.execute(f"select count(*) {rows}").fetchone()[0])
        if getattr(run, field):
            sample = snapshot.execute(f"select {columns} {rows} order by 1 limit {SAMPLE_SIZE}").fetchall()
            run.change_sample[field] = [row[0] if len(row) == 1 else list(row) for row in sample]
    snapshot.execute("detach database old")


def _guard_reason(run):
    """Why publishing this run could take the shop off sale (a supplier outage, say); "" if it looks safe."""
    if not run.offers:
        return _("The feed has no offers.")
    last = published_run()
    if not last or not last.available_offers:
        return ""
    drop = (last.available_offers - run.available_offers) * 100 / last.available_offers
    if drop <= settings.FEED_MAX_DROP_PERCENT:
        return ""
    return _(
        "Available offers dropped from %(before)d to %(now)d (−%(drop).1f%%), "
        "more than FEED_MAX_DROP_PERCENT (%(limit)d%%)."
    ) % {
        "before": last.available_offers, "now": run.available_offers, "drop": drop,
        "limit": settings.FEED_MAX_DROP_PERCENT,
    }


def _publish(work):
    """Move the new files into place. Each os.replace is atomic: a fetch gets the old file or the new one."""
    with open(work / FEED_NAME, "rb") as plain, gzip.open(work / GZIP_NAME, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(plain, packed, 1 << 20)
    for name in (GZIP_NAME, FEED_NAME, SNAPSHOT_NAME):
        os.replace(work / name, Path(settings.FEED_DIR) / name)
