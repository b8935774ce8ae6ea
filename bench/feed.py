"""Feed build benchmark: our streaming build vs a naive in-memory one, seconds and peak RSS.

    .venv/bin/python bench/feed.py [N ...]      (default: 10000 100000)

Each measurement runs in a fresh subprocess, so ru_maxrss is that job's own peak; the table shows
the median of RUNS runs (the machine is shared, so single runs are noisy). The catalogue lives in a
throwaway SQLite database; it has been published once before ours is measured, so the timed build
also compares with a previous snapshot, as every hourly build does.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = {"ours": "feed_build() + validation + publish", "naive": "ElementTree + minidom.toprettyxml"}
RUNS = 3


def main(sizes):
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="feed-bench-") as tmp:
            env = _environment(Path(tmp))
            _child(env, "setup", n)
            for mode in MODES:
                results = [_child(env, mode, n) for _ in range(RUNS)]
                median = {key: statistics.median(r[key] for r in results) for key in results[0]}
                rows.append((n, mode, {**median, "best": min(r["seconds"] for r in results)}))
    print(f"| offers | build | seconds (median of {RUNS}) | best | CPU seconds | peak RSS, MB |")
    print("|---:|---|---:|---:|---:|---:|")
    for n, mode, r in rows:
        print(f"| {n:,} | {MODES[mode]} | {r['seconds']:.2f} | {r['best']:.2f} | {r['cpu']:.2f} | {r['peak_mb']:.0f} |")


def _environment(tmp):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kaspiconnect.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "FEED_DIR": str(tmp / "feeds"),
        "SECRET_KEY": "bench",
        "DEBUG": "false",
        "KASPI_COMPANY": "Bench shop",
        "KASPI_MERCHANT_ID": "12345",
        "KASPICONNECT_QUIET": "1",
        "PYTHONPATH": str(ROOT),
    }


def _child(env, mode, n):
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(n)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"{mode} {n} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(mode, n):
    import django

    django.setup()
    started, cpu = time.perf_counter(), time.process_time()
    {"setup": _setup, "ours": _ours, "naive": _naive}[mode](n)
    # CPU time as well as wall time: on a shared machine the wall clock also counts other people's work.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "peak_mb": peak_mb}))


def _setup(n):
    from django.core.management import call_command

    from catalog.models import Brand, Product, Store
    from feeds.services import feed_build

    call_command("migrate", verbosity=0)
    Store.objects.create(store_id="PP1", name="Main")
    brands = Brand.objects.bulk_create(Brand(name=f"Brand & Co {i}") for i in range(50))
    Product.objects.bulk_create(
        (
            Product(
                article=100000 + i, sku=f"{100000 + i}", name=f'Ноутбук "Model {i}" 15.6" <8 GB> & charger',
                brand=brands[i % 50], purchase_price=90000 + i, price=119990 + i,
                supplier_stock=i % 40, publish=i % 10 != 0,
            )
            for i in range(n)
        ),
        batch_size=5000,
    )
    run = feed_build()
    assert run.outcome == "published", (run.outcome, run.reason)


def _ours(n):
    from feeds.services import feed_build

    run = feed_build()
    assert run.outcome == "published" and run.offers == n, (run.outcome, run.reason)


def _naive(n):
    import xml.dom.minidom
    import xml.etree.ElementTree as ET

    from django.conf import settings

    from catalog.offers import iter_offers

    root = ET.Element("kaspi_catalog", {"xmlns": "kaspiShopping", "date": "2026-01-01T00:00:00"})
    ET.SubElement(root, "company").text = settings.KASPI_COMPANY
    ET.SubElement(root, "merchantid").text = settings.KASPI_MERCHANT_ID
    offers = ET.SubElement(root, "offers")
    for offer in iter_offers():
        element = ET.SubElement(offers, "offer", sku=offer.sku)
        ET.SubElement(element, "model").text = offer.model
        ET.SubElement(element, "brand").text = offer.brand
        stores = ET.SubElement(element, "availabilities")
        for a in offer.availabilities:
            ET.SubElement(
                stores, "availability", available="yes" if a.available else "no", storeId=a.store_id,
                stockCount=str(a.stock),
            )
        ET.SubElement(element, "price").text = str(offer.price)
    pretty = xml.dom.minidom.parseString(ET.tostring(root, encoding="utf-8")).toprettyxml(encoding="utf-8")
    Path(settings.FEED_DIR).mkdir(parents=True, exist_ok=True)
    (Path(settings.FEED_DIR) / "naive.xml").write_bytes(pretty)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000])
