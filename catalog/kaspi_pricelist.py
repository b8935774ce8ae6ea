"""The shop's existing Kaspi price list: read it, match its offers to products, keep their SKUs.

A shop that already sells on Kaspi has product cards and reviews tied to the SKUs of its price
list, and an offer that switches to a new SKU goes off sale until Kaspi matches it again. So each
offer is matched to a product (by SKU, part number, barcode, then name) and a matched product
keeps the offer's SKU for good: the feed publishes it and order lines are linked by it.
"""

import ipaddress
import re
import socket
import tempfile
from collections import defaultdict
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from lxml import etree

from common.http import ApiError, Cause, call, describe_status, safe_url
from common.text import clean_text

from .models import ListedOffer, PriceListImport, Product, skus_kept

MAX_BYTES = 50 << 20  # a whole catalogue of 20,000 offers is some 10 MB
MAX_OFFERS = 100_000
BATCH = 1000
# The Sku type of schemas/kaspishopping.xsd: the SKUs the feed may publish.
KASPI_SKU = re.compile(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*")
MAX_SKU = 20
MIN_PART_NUMBER = 4  # shorter part numbers ("A1") turn up inside too many names
PART_NUMBER_WORDS = 3  # a part number written with spaces ("MX 518") spans a few words of a name
_WORD_BREAKS = re.compile(r"[\s,;:()\[\]{}«»\"']+")
Match = ListedOffer.Match

# What became of an offer; the counts of an import and the admin's filter both read these.
STATUSES = {
    "matched": Q(product__isnull=False, left_out=False),
    "refused": Q(product__isnull=False, left_out=False) & ~Q(note=""),
    "unmatched": Q(product__isnull=True, left_out=False),
    "left_out": Q(left_out=True),
}


class PriceListError(Exception):
    """The price list cannot be read or applied; nothing was changed."""


def is_kaspi_sku(sku):
    return len(sku) <= MAX_SKU and KASPI_SKU.fullmatch(sku) is not None


# --- reading ------------------------------------------------------------------------------------


def pricelist_open(location):
    """`(source, binary file)` for a path or an http(s) URL; PriceListError when it cannot be had."""
    if urlsplit(location).scheme in ("http", "https"):
        return safe_url(location), _download(location)
    try:
        return Path(location).name, open(location, "rb")
    except OSError as exc:
        raise PriceListError(_("cannot read %(path)s: %(error)s") % {"path": location, "error": exc.strerror}) from None


def _download(url):
    """The body at `url` in a temporary file, fetched from the internet only.

    A manager types the URL, so it must not make the server fetch from itself, its network or the
    cloud's metadata service: every address the host resolves to must be public, the connection goes
    to the address that was checked (a later DNS answer cannot point elsewhere), and a redirect is not
    followed. The URL's user:password@ is sent as basic auth and appears in no message.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    except ValueError as exc:
        raise PriceListError(_("cannot download the price list: %(error)s") % {"error": exc}) from None
    with requests.Session() as session:
        session.mount(f"{parts.scheme}://", _PinnedAdapter(_public_address(parts.hostname, port)))
        try:
            return call("GET", url, parse=_spool, describe=_refuse_redirect, session=session, stream=True,
                        allow_redirects=False, headers={"Host": parts.netloc.rpartition("@")[2]},
                        secrets=[parts.password])
        except ApiError as exc:
            raise PriceListError(_("cannot download the price list: %(error)s") % {"error": exc}) from None


def is_public_address(address):
    """Whether a price list may be fetched from `address` (an `ipaddress` address): one on the internet,
    not loopback, private, link-local, multicast, reserved or unspecified. Tests that serve a price list
    on 127.0.0.1 replace this function."""
    address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:127.0.0.1 is 127.0.0.1
    # is_global is False for loopback, private, link-local, unspecified and shared (100.64/10) addresses.
    return address.is_global and not (address.is_multicast or address.is_reserved
                                      or getattr(address, "is_site_local", False))


def _public_address(host, port):
    """The address to connect to for `host`; PriceListError unless every address it resolves to is public."""
    if not host:
        raise PriceListError(_("cannot download the price list: the URL names no host"))
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise PriceListError(_("cannot download the price list: cannot resolve %(host)s (%(error)s)")
                             % {"host": host, "error": exc}) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    if not all(map(is_public_address, addresses)):
        raise PriceListError(_("cannot download the price list: %(host)s is not an internet address")
                             % {"host": host})
    return addresses[0]


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connects to `address` whatever the URL's host resolves to by then; TLS still checks the host's name."""

    def __init__(self, address):
        super().__init__()
        self.address = f"[{address}]" if address.version == 6 else str(address)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            name = host_params["host"].strip("[]")
            pool_kwargs = {**pool_kwargs, "server_hostname": name, "assert_hostname": name}
        return {**host_params, "host": self.address}, pool_kwargs


def _refuse_redirect(response):
    """A redirect is not followed (it could lead to an internal address): the manager gives the address it names."""
    if not response.is_redirect:
        return describe_status(response)
    target = safe_url(urljoin(response.url, response.headers["Location"]))
    return ApiError(_("HTTP %(status)d: the price list has moved to %(url)s; give that address")
                    % {"status": response.status_code, "url": target}, temporary=False, status=response.status_code)


def _spool(response):
    """The answer's body in a temporary file, refused past MAX_BYTES."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise _too_big_answer()
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    for chunk in response.iter_content(1 << 16):
        if spool.tell() + len(chunk) > MAX_BYTES:
            spool.close()
            raise _too_big_answer()
        spool.write(chunk)
    spool.seek(0)
    return spool


def _too_big_answer():
    return ApiError(_too_big(), temporary=False, cause=Cause.MALFORMED)


def _too_big():
    return _("the price list is larger than %(mb)d MB") % {"mb": MAX_BYTES >> 20}


class _Limited:
    """A binary file that refuses to be read past MAX_BYTES."""

    def __init__(self, file):
        self.file, self.left = file, MAX_BYTES

    def read(self, size=-1):
        data = self.file.read(self.left + 1 if size is None or size < 0 else size)
        self.left -= len(data)
        if self.left < 0:
            raise PriceListError(_too_big())
        return data


def read_offers(file):
    """The offers of a Kaspi price list as unsaved `ListedOffer`s; PriceListError when it is malformed.

    Streamed, so memory holds one offer element at a time; entities are not expanded and nothing is
    fetched from the network. The namespace may be Kaspi's or none.
    """
    offers = []
    parsing = etree.iterparse(_Limited(file), tag="{*}offer", resolve_entities=False, no_network=True,
                              load_dtd=False)
    try:
        for _event, element in parsing:
            if len(offers) == MAX_OFFERS:
                raise PriceListError(ngettext("the price list has more than %(count)d offer",
                                                      "the price list has more than %(count)d offers",
                                                      MAX_OFFERS) % {"count": MAX_OFFERS})
            offers.append(_listed_offer(element))
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise PriceListError(_("the price list is not well-formed XML: %(error)s") % {"error": exc}) from None
    if not offers:
        raise PriceListError(_("the file holds no offers: is it a Kaspi price list?"))
    return offers


def _listed_offer(element):
    children = {etree.QName(child).localname: child for child in element if isinstance(child.tag, str)}
    city_prices = [price for price in children.get("cityprices", ()) if isinstance(price.tag, str)]
    price = _whole(children.get("price")) or (_whole(city_prices[0]) if city_prices else None)
    return ListedOffer(
        sku=(element.get("sku") or "").strip()[:64],
        model=clean_text(_text(children.get("model")), 1000),
        brand=clean_text(_text(children.get("brand")), 255),
        barcode=clean_text(_text(children.get("barcode")), 64),  # Kaspi's own lists carry none; some do
        price=price,
    )


def _text(element):
    return "" if element is None else element.text or ""


def _whole(element):
    text = _text(element).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


# --- matching -----------------------------------------------------------------------------------


def part_number_key(text):
    return re.sub(r"[\s-]+", "", text.casefold())


def name_key(text):
    return " ".join(re.findall(r"\w+", text.casefold().replace("ё", "е")))


def _part_number_keys(offer):
    """The offer's SKU, and every run of up to PART_NUMBER_WORDS words of its model, as part numbers."""
    words = [word.strip("./-") for word in _WORD_BREAKS.split(offer.model)]
    words = [word for word in words if word]
    runs = ("".join(words[start:start + length]) for length in range(1, PART_NUMBER_WORDS + 1)
            for start in range(len(words) - length + 1))
    return {part_number_key(offer.sku), *map(part_number_key, runs)}


KEYS = {
    Match.SKU: lambda offer: [offer.sku],
    Match.PART_NUMBER: _part_number_keys,
    Match.BARCODE: lambda offer: [offer.barcode],
    Match.NAME: lambda offer: [name_key(offer.model)],
}


def _indexes():
    """For each way of matching: key → ids of the products it fits."""
    index = {kind: defaultdict(set) for kind in KEYS}
    rows = Product.objects.values_list("id", "sku", "kaspi_sku", "article_pn", "barcode", "name")
    for pk, sku, kaspi_sku, part_number, barcode, name in rows.iterator(chunk_size=2000):
        keys = {
            Match.SKU: [sku, kaspi_sku],
            Match.PART_NUMBER: [part_number_key(part_number)],
            Match.BARCODE: [barcode.strip()],
            Match.NAME: [name_key(name)],
        }
        for kind, values in keys.items():
            for value in values:
                if value and (kind != Match.PART_NUMBER or len(value) >= MIN_PART_NUMBER):
                    index[kind][value].add(pk)
    return index


def _match(offers):
    """Give each offer not linked by hand or left out the product it fits, trying each way in turn.

    A product goes to one offer only. An offer that fits several products, or a product that several
    offers fit, stays unmatched with the reason (unless a later way settles it).
    """
    for offer in offers:
        if offer.match != Match.MANUAL or offer.left_out:
            offer.product, offer.match = None, ""
        offer.note = ""
    taken = {offer.product_id for offer in offers if offer.product_id}
    pending = [offer for offer in offers if offer.product_id is None and not offer.left_out]
    index = _indexes()
    for kind, keys in KEYS.items():
        claims = defaultdict(list)
        for offer in pending:
            fits = {pk for key in keys(offer) for pk in index[kind].get(key, ())} - taken
            if len(fits) == 1:
                claims[fits.pop()].append(offer)
            elif fits and not offer.note:
                offer.note = ngettext("%(how)s, it fits %(count)d product", "%(how)s, it fits %(count)d products",
                                      len(fits)) % {"how": kind.label, "count": len(fits)}
        for pk, claimants in claims.items():
            if len(claimants) == 1:
                claimants[0].product_id, claimants[0].match, claimants[0].note = pk, kind, ""
                taken.add(pk)
                continue
            for offer in claimants:
                offer.note = offer.note or ngettext(
                    "%(how)s, %(count)d offer fits the same product", "%(how)s, %(count)d offers fit the same product",
                    len(claimants)) % {"how": kind.label, "count": len(claimants)}
        pending = [offer for offer in pending if offer.product_id is None]
    for offer in pending:
        offer.note = offer.note or _("no product fits")


# --- applying -----------------------------------------------------------------------------------


def _apply(offers, *, write):
    """Give each matched product its offer's SKU, unless that changes a kept SKU or publishes one twice.

    `write=False` (a dry run) only notes what would be refused. Runs inside the caller's transaction,
    and so do the receivers of `skus_kept`, sent with every SKU a product carries now.
    """
    linked = [offer for offer in offers if offer.product_id and not offer.left_out]
    wanted, skus = {offer.product_id for offer in linked}, {offer.sku for offer in linked}
    kept, holders = {}, defaultdict(set)  # product → the SKU it keeps; SKU → products the feed publishes it for
    for pk, sku, kaspi_sku in Product.objects.values_list("id", "sku", "kaspi_sku").iterator(chunk_size=5000):
        if pk in wanted:
            kept[pk] = kaspi_sku
        for held in {sku, kaspi_sku} & skus:
            holders[held].add(pk)
    for offer in linked:
        pk, sku = offer.product_id, offer.sku
        offer.note = _refusal(sku, kept.get(pk), holders[sku] - {pk})
        offer.applied = write and not offer.note
        if offer.note or kept.get(pk) == sku:
            continue
        # Only a product without a kept SKU takes one, whatever ran since it was read.
        if write and not Product.objects.filter(pk=pk, kaspi_sku=None).update(kaspi_sku=sku, updated_at=timezone.now()):
            offer.note, offer.applied = _("the product took another SKU meanwhile"), False
            continue
        kept[pk] = sku
        holders[sku].add(pk)
    kept_now = [(offer.product_id, offer.sku) for offer in linked if offer.applied]
    if kept_now:
        skus_kept.send(sender=Product, kept=kept_now)


def _refusal(sku, kept, others):
    if kept == sku:
        return ""
    if kept:
        return _("the product already sells under SKU %(sku)s, which never changes") % {"sku": kept}
    if not is_kaspi_sku(sku):
        return _("not a SKU the feed can publish (Latin letters and digits, joined by underscores, at most 20)")
    if others:
        return _("another product is published under this SKU already")
    return ""


def _count(price_list):
    counts = price_list.listed_offers.aggregate(
        offers=Count("id"), applied=Count("id", filter=Q(applied=True)),
        **{name: Count("id", filter=STATUSES[name]) for name in ("matched", "refused", "unmatched")},
    )
    for name, value in counts.items():
        setattr(price_list, name, value)
    price_list.save()


def match_counts(price_list):
    """`{match kind label: offers matched so}`, every kind listed."""
    found = dict(price_list.listed_offers.filter(STATUSES["matched"]).values_list("match").annotate(Count("id")))
    return {kind.label: found.get(kind.value, 0) for kind in Match}


# --- services -----------------------------------------------------------------------------------


def pricelist_import(*, file, source, user=None, dry_run=False):
    """Read a price list, match its offers and, unless a dry run, keep their SKUs; all or nothing.

    A dry run stores the report (the import marked dry run, with its listed offers) and changes no
    product: `pricelist_apply` applies it later.
    """
    offers = read_offers(file)
    with transaction.atomic():
        price_list = PriceListImport.objects.create(source=source[:1000], user=user, dry_run=dry_run)
        for offer in offers:
            offer.price_list = price_list
        _match(offers)
        _apply(offers, write=not dry_run)
        ListedOffer.objects.bulk_create(offers, batch_size=BATCH)
        _count(price_list)
    return price_list


def pricelist_apply(*, price_list, user=None):
    """Apply a dry run: match its offers again against the catalogue as it is now, and keep their SKUs."""
    with transaction.atomic():
        price_list = PriceListImport.objects.select_for_update().get(pk=price_list.pk)
        if not price_list.dry_run:
            raise PriceListError(_("this price list has been applied already"))
        offers = list(price_list.listed_offers.all())
        _match(offers)
        _apply(offers, write=True)
        # Written anew under the same ids: Django's bulk_update takes a minute for 20,000 rows.
        price_list.listed_offers.all().delete()
        ListedOffer.objects.bulk_create(offers, batch_size=BATCH)
        price_list.dry_run, price_list.at, price_list.user = False, timezone.now(), user
        _count(price_list)
    return price_list


def listed_offer_link(*, offer, product):
    """Link an offer to `product` by hand (None: to nothing); on an applied import it keeps its SKU at once."""
    with transaction.atomic():
        price_list = PriceListImport.objects.select_for_update().get(pk=offer.price_list_id)
        offer = ListedOffer.objects.get(pk=offer.pk)
        if offer.applied:
            raise PriceListError(_("this offer's SKU is kept already; it never changes"))
        offer.product, offer.match, offer.left_out, offer.note = product, Match.MANUAL if product else "", False, ""
        if product is not None:
            _apply([offer], write=not price_list.dry_run)
        offer.save()
        _count(price_list)
    return offer


def listed_offers_leave_out(*, queryset, left_out=True):
    """Mark offers as left out (or not): no product takes their SKU. Offers whose SKU is kept stay as they are."""
    with transaction.atomic():
        offers = queryset.filter(applied=False)
        imports = set(offers.values_list("price_list", flat=True))
        count = offers.update(left_out=left_out, product=None, match="", note="")
        for price_list in PriceListImport.objects.filter(pk__in=imports):
            _count(price_list)
    return count
