from feeds.services import feed_build, FEED_NAME
from django.conf import settings

def test_it_smoke(store, make_product):
    make_product(name="A & <b> \"q\"", brand="X")
    make_product(price=None)
    run = feed_build()
    print(run.outcome, run.reason, run.validation_errors, run.offers, run.available_offers, run.bytes, run.change_sample, run.added)
    print((settings.FEED_DIR / FEED_NAME).read_text())
    make_product()
    run = feed_build()
    print(run.outcome, run.reason, run.validation_errors, run.offers, run.available_offers, run.bytes, run.change_sample, run.added)
    assert 0
