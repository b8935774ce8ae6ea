from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from common.crypto import EncryptedTextField, KeyedWordsField, keyed_phone, keyed_words
from common.format import decimal
from common.search import with_derived


class KaspiStatus(models.TextChoices):
    APPROVED_BY_BANK = "APPROVED_BY_BANK", _("approved by bank")
    ACCEPTED_BY_MERCHANT = "ACCEPTED_BY_MERCHANT", _("accepted by merchant")
    COMPLETED = "COMPLETED", _("completed")
    CANCELLED = "CANCELLED", _("cancelled")
    CANCELLING = "CANCELLING", _("cancelling")
    KASPI_DELIVERY_RETURN_REQUESTED = "KASPI_DELIVERY_RETURN_REQUESTED", _("return requested")
    RETURNED = "RETURNED", _("returned")


class KaspiState(models.TextChoices):
    NEW = "NEW", pgettext_lazy("order state", "new")
    SIGN_REQUIRED = "SIGN_REQUIRED", _("signature required")
    PICKUP = "PICKUP", _("pickup")
    DELIVERY = "DELIVERY", _("delivery")
    KASPI_DELIVERY = "KASPI_DELIVERY", _("Kaspi delivery")
    ARCHIVE = "ARCHIVE", _("archive")


class DeliveryMode(models.TextChoices):
    DELIVERY_LOCAL = "DELIVERY_LOCAL", _("local delivery")
    DELIVERY_PICKUP = "DELIVERY_PICKUP", _("pickup")
    DELIVERY_REGIONAL_TODOOR = "DELIVERY_REGIONAL_TODOOR", _("regional, to the door")
    DELIVERY_REGIONAL_PICKUP = "DELIVERY_REGIONAL_PICKUP", _("regional, pickup point")


class PaymentMode(models.TextChoices):
    """Kaspi's `paymentMode`: stored as Kaspi sends it, shown by its label."""

    PREPAID = "PREPAID", _("paid")
    PAY_WITH_CREDIT = "PAY_WITH_CREDIT", _("in credit or instalments")


class CancellationReason(models.TextChoices):
    """Kaspi's cancellation reasons: the ones a shop sends, and the ones an imported order may carry."""

    BUYER_CANCELLATION_BY_MERCHANT = "BUYER_CANCELLATION_BY_MERCHANT", _("buyer asked to cancel")
    BUYER_NOT_REACHABLE = "BUYER_NOT_REACHABLE", _("buyer not reachable")
    MERCHANT_OUT_OF_STOCK = "MERCHANT_OUT_OF_STOCK", _("out of stock")


def label_of(choices, code):
    """A Kaspi code in words: its label when known; an unknown code as it came; "—" for none."""
    if not code:
        return "—"
    try:
        return choices(code).label
    except ValueError:
        return code


# Orders in these statuses hold stock: the buyer paid, the goods have not left yet.
OPEN_STATUSES = [KaspiStatus.APPROVED_BY_BANK, KaspiStatus.ACCEPTED_BY_MERCHANT]
# Nothing changes after these; every other status may still move at Kaspi.
FINAL_STATUSES = [KaspiStatus.COMPLETED, KaspiStatus.CANCELLED, KaspiStatus.RETURNED]


# How the buyer is found: each search form with the encrypted column it is made from and how (keyed
# hashes, see common.crypto): the name by whole words, the phone by its whole number.
CUSTOMER_SEARCH = {"customer_search": ("customer_name", keyed_words), "phone_hash": ("customer_phone", keyed_phone)}
# The buyer's personal data, encrypted at rest.
CUSTOMER_DATA = ["customer_name", "customer_phone", "delivery_address"]


def customer_data(relation=None):
    """The personal fields by name (through `relation`, e.g. "order"), for a `defer()`: a page that does
    not show them does not decrypt them."""
    return [f"{relation}__{name}" if relation else name for name in CUSTOMER_DATA]


def customer_search_fields(fields):
    """The search forms of the buyer's name and phone among `fields` (Order columns by name)."""
    return {field: form(fields[source]) for field, (source, form) in CUSTOMER_SEARCH.items() if source in fields}


class OrderQuerySet(models.QuerySet):
    """Orders someone has to do something about; the admin's filters and the dashboard read these."""

    def to_hand_over(self):
        """Kaspi Delivery orders accepted and not handed over (ASSEMBLE) yet."""
        return self.filter(is_kaspi_delivery=True, status=KaspiStatus.ACCEPTED_BY_MERCHANT, assembled=False)

    def waiting_for_courier(self):
        """Handed over with a planned pick-up that has not happened yet."""
        return self.filter(status__in=OPEN_STATUSES, courier_transmission_date__isnull=True,
                           courier_transmission_planning_date__isnull=False)

    def courier_today(self):
        return self.waiting_for_courier().filter(courier_transmission_planning_date__date=timezone.localdate())

    def courier_overdue(self):
        return self.waiting_for_courier().filter(courier_transmission_planning_date__lt=timezone.now())

    def returns_coming_back(self):
        """Goods on their way back to the shop: mark them returned when they arrive."""
        return self.filter(status__in=[KaspiStatus.CANCELLING, KaspiStatus.KASPI_DELIVERY_RETURN_REQUESTED])


class Order(models.Model):
    kaspi_id = models.CharField(_("Kaspi ID"), max_length=128, unique=True)
    code = models.CharField(_("order number"), max_length=32, unique=True)
    state = models.CharField(_("Kaspi state"), max_length=32, choices=KaspiState.choices, db_index=True)
    status = models.CharField(_("Kaspi status"), max_length=40, choices=KaspiStatus.choices, db_index=True)
    total_price = models.PositiveIntegerField(_("total, ₸"), default=0)
    delivery_cost = models.PositiveIntegerField(_("delivery cost, ₸"), default=0)
    payment_mode = models.CharField(_("payment"), max_length=32, blank=True)
    delivery_mode = models.CharField(_("delivery"), max_length=40, choices=DeliveryMode.choices, blank=True,
                                     db_index=True)
    is_kaspi_delivery = models.BooleanField(_("Kaspi delivery"), default=False)
    delivery_address = EncryptedTextField(_("delivery address"), blank=True)
    pickup_point_id = models.CharField(_("pickup point"), max_length=64, blank=True)
    signature_required = models.BooleanField(_("signature required"), default=False)
    pre_order = models.BooleanField(_("pre-order"), default=False)
    customer_name = EncryptedTextField(_("customer"), blank=True)
    customer_phone = EncryptedTextField(_("phone"), blank=True)
    customer_search = KeyedWordsField(_("customer, for search"))
    phone_hash = models.CharField(_("phone, for search"), max_length=64, blank=True, editable=False, db_index=True)
    created_at_kaspi = models.DateTimeField(_("created"), db_index=True)
    approved_by_bank_at = models.DateTimeField(_("approved by bank"), null=True, blank=True)
    planned_delivery_date = models.DateTimeField(_("planned delivery"), null=True, blank=True)
    reservation_date = models.DateTimeField(_("reserved until"), null=True, blank=True)
    credit_term = models.PositiveSmallIntegerField(_("credit term, months"), null=True, blank=True)
    delivery_cost_for_seller = models.PositiveIntegerField(_("delivery cost for the shop, ₸"), default=0)
    express = models.BooleanField(_("express"), default=False)
    cancellation_reason = models.CharField(_("cancellation reason"), max_length=64, blank=True)
    # Kaspi Delivery: set once the shop hands the order over (ASSEMBLE).
    assembled = models.BooleanField(_("handed over for delivery"), default=False)
    waybill = models.URLField(_("waybill"), max_length=1000, blank=True)
    waybill_number = models.CharField(_("waybill number"), max_length=64, blank=True)
    courier_transmission_planning_date = models.DateTimeField(_("hand-over to the courier planned"), null=True,
                                                              blank=True, db_index=True)
    courier_transmission_date = models.DateTimeField(_("handed over to the courier"), null=True, blank=True)
    returned_to_warehouse = models.BooleanField(_("returned to the warehouse"), default=False)
    entries_loaded = models.BooleanField(default=False, editable=False)
    # When the order was last read from Kaspi: an old unfinished one is read again when this is stale.
    refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Own-stock bookkeeping, each at most once per order: the units its lines took from own stock went
    # back to it (cancelled before they left), and the returned units were added to it.
    own_units_released = models.BooleanField(default=False, editable=False)
    stock_taken_back = models.BooleanField(default=False, editable=False)
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at_kaspi"]
        permissions = [("view_customer_data", _("Can see buyers' names, phones and addresses"))]

    def __str__(self):
        return f"№{self.code}"

    def save(self, *args, **kwargs):
        for field, (source, form) in CUSTOMER_SEARCH.items():
            setattr(self, field, form(getattr(self, source)))
        sources = {field: [source] for field, (source, _form) in CUSTOMER_SEARCH.items()}
        kwargs["update_fields"] = with_derived(kwargs.get("update_fields"), sources)
        super().save(*args, **kwargs)

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def is_hand_over_overdue(self):
        """`OrderQuerySet.courier_overdue` for one order already in memory (a list page asks it per row)."""
        planned = self.courier_transmission_planning_date
        return bool(planned and not self.courier_transmission_date and self.is_open and planned < timezone.now())


class OrderEntry(models.Model):
    """A line as Kaspi sold it; SKU, name and price are copied so history survives product edits.

    Kaspi numbers lines from 0 and may leave the number out: a line is known by its own Kaspi id.
    """

    order = models.ForeignKey(Order, models.CASCADE, related_name="entries", verbose_name=_("order"))
    kaspi_id = models.CharField(_("Kaspi ID"), max_length=255, null=True, blank=True)  # null: left by old imports
    entry_number = models.PositiveIntegerField(_("line"), null=True, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, db_index=True)
    name = models.CharField(_("name"), max_length=1000)
    product = models.ForeignKey("catalog.Product", models.SET_NULL, null=True, blank=True,
                                related_name="order_entries", verbose_name=_("product"))
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.PositiveIntegerField(_("unit price, ₸"))
    total_price = models.PositiveIntegerField(_("total, ₸"))
    category_code = models.CharField(_("Kaspi category code"), max_length=255, blank=True)
    category_title = models.CharField(_("Kaspi category"), max_length=255, blank=True)
    delivery_cost = models.PositiveIntegerField(_("delivery cost, ₸"), default=0)
    weight = models.DecimalField(_("weight, kg"), max_digits=12, decimal_places=3, null=True, blank=True)
    unit_type = models.CharField(_("unit"), max_length=32, blank=True)
    own_units = models.PositiveIntegerField(
        _("from own stock"), default=0, help_text=_("Units of this line taken from the shop's own stock.")
    )
    bought_units = models.PositiveIntegerField(
        _("bought from the supplier"), default=0,
        help_text=_("Units of this line in a supplier order sent to Al-Style: its stock is down by them already."),
    )
    # Money: the inputs of the line's profit, in whole tenge (see orders.money).
    unit_cost = models.PositiveIntegerField(
        _("unit cost, ₸"), null=True, blank=True,
        help_text=_("The product's purchase cost when the line was imported (Al-Style's partner price where "
                    "given, else price1); empty when the line matched no product."),
    )
    commission_percent = models.DecimalField(_("Kaspi commission, %"), max_digits=5, decimal_places=2,
                                             null=True, blank=True)
    commission = models.PositiveIntegerField(_("Kaspi commission, ₸"), default=0)
    delivery_share = models.PositiveIntegerField(
        _("delivery share, ₸"), default=0,
        help_text=_("This line's part of what delivery costs the shop, shared across the lines by their totals."),
    )

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "entry_number", "pk"]
        constraints = [models.UniqueConstraint(fields=["order", "kaspi_id"], name="unique_order_entry_kaspi_id")]

    def __str__(self):
        return f"{self.name} ({self.sku}) × {self.quantity}"


class CommissionRate(models.Model):
    """Kaspi's commission for one category of its tariff table, matched on the order line's category title."""

    category_title = models.CharField(
        _("Kaspi category"), max_length=255, unique=True,
        help_text=_("Exactly as order lines name it (the leaf category of Kaspi's tariff table)."),
    )
    percent = models.DecimalField(_("commission, %"), max_digits=5, decimal_places=2,
                                  validators=[MinValueValidator(0), MaxValueValidator(50)],
                                  help_text=_("Including VAT, as Kaspi charges it."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Kaspi commission rate")
        verbose_name_plural = _("Kaspi commission rates")
        ordering = ["category_title"]

    def __str__(self):
        return f"{self.category_title}: {decimal(self.percent)} %"


class OrderEvent(models.Model):
    """The order's history: what Kaspi reported and what the shop did, in order."""

    order = models.ForeignKey(Order, models.CASCADE, related_name="events", verbose_name=_("order"))
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    status = models.CharField(_("Kaspi status"), max_length=40, choices=KaspiStatus.choices, blank=True)
    state = models.CharField(_("Kaspi state"), max_length=32, choices=KaspiState.choices, blank=True)
    text = models.TextField(_("what happened"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                             verbose_name=_("user"))

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order history")
        ordering = ["-at", "-id"]

    def __str__(self):
        return self.text

    @classmethod
    def note(cls, order, text, user):
        """Add a line to the order's history, with the status and state it has now."""
        return cls.objects.create(order=order, status=order.status, state=order.state, text=text, user=user)


class StatusChange(models.Model):
    """The only way a status reaches Kaspi: requested, approved by staff, sent once, then done or failed."""

    class Action(models.TextChoices):
        ACCEPT = "accept", _("accept")
        COMPLETE = "complete", _("complete")
        CANCEL = "cancel", _("cancel")
        CANCEL_ENTRY = "cancel_entry", _("cancel part of a line")
        ASSEMBLE = "assemble", _("hand over to Kaspi Delivery")
        ARRIVED = "arrived", _("pre-order goods arrived")
        RETURNED = "returned", _("returned goods arrived")

    class State(models.TextChoices):
        PENDING = "pending", _("awaiting approval")
        APPROVED = "approved", _("approved, queued")
        SENDING = "sending", _("sending")
        UNCERTAIN = "uncertain", _("no answer, checking")
        APPLYING = "applying", _("accepted, Kaspi is applying it")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected")
        SUPERSEDED = "superseded", _("superseded")

    Reason = CancellationReason

    ACTIVE = [State.PENDING, State.APPROVED, State.SENDING, State.UNCERTAIN, State.APPLYING]

    order = models.ForeignKey(Order, models.CASCADE, related_name="status_changes", verbose_name=_("order"))
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING,
                             db_index=True)
    reason = models.CharField(_("cancellation reason"), max_length=40, choices=Reason.choices, blank=True)
    comment = models.CharField(_("comment"), max_length=1000, blank=True)
    security_code = models.CharField(_("buyer's code"), max_length=16, blank=True,
                                     help_text=_("Empty: ask Kaspi to send the buyer a code."))
    places = models.PositiveSmallIntegerField(_("parcels"), null=True, blank=True)
    # A part cancellation names its line by Kaspi's id (the line may vanish at Kaspi afterwards).
    entry_kaspi_id = models.CharField(_("line at Kaspi"), max_length=255, blank=True)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    keep_quantity = models.PositiveIntegerField(_("units to keep"), null=True, blank=True)
    proposed = models.BooleanField(_("proposed automatically"), default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # The process sending it ("host:pid:start"), so that a push can tell a sender that died.
    claimed_by = models.CharField(_("sent by process"), max_length=100, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    message = models.TextField(_("Kaspi's answer"), blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-requested_at"]
        permissions = [("approve_statuschange", _("Can approve status changes sent to Kaspi"))]
        constraints = [
            # At most one change in flight per order: a double click cannot queue a second one.
            models.UniqueConstraint(fields=["order"], condition=Q(state__in=["pending", "approved", "sending",
                                                                              "uncertain", "applying"]),
                                    name="one_active_status_change_per_order"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} №{self.order.code}"

    @property
    def is_code_request(self):
        return self.action == self.Action.COMPLETE and not self.security_code
