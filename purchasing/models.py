from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SupplierOrder(models.Model):
    """What the shop buys from Al-Style for accepted Kaspi orders: proposed, approved by staff, sent
    to Al-Style's cart and submitted exactly once, then followed until Al-Style ships or cancels it."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("proposed, awaiting approval")
        APPROVED = "approved", _("approved, queued")
        SENDING = "sending", _("sending")
        UNCERTAIN = "uncertain", _("no answer, checking")
        HELD = "held", _("held: needs a decision")
        SENT = "sent", _("sent to Al-Style")
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected")
        MERGED = "merged", _("merged into another")
        WITHDRAWN = "withdrawn", _("withdrawn: the Kaspi orders were cancelled")
        CANCELLED = "cancelled", _("cancelled at Al-Style")

    class AlstyleStatus(models.TextChoices):
        N = "N", _("awaiting payment")
        P = "P", _("shipped, awaiting payment")
        SV = "SV", _("ready to ship")
        OS = "OS", _("being handed over for pickup")
        OK = "OK", _("being shipped")
        F = "F", _("shipped and paid")
        UN = "Un", _("merged with another order")
        R = "R", _("provisional reservation")
        DA = "DA", _("cancelled")

    # Still to be sent (a person or the queue acts next), and what may be edited or merged.
    UNSENT = [State.PROPOSED, State.APPROVED, State.SENDING, State.UNCERTAIN, State.HELD]
    # Buying for its Kaspi lines, or bought: a Kaspi line is served by at most one of these.
    LIVE = [*UNSENT, State.SENT]
    # Al-Style has nothing more to do with it.
    FINAL_STATUSES = [AlstyleStatus.F, AlstyleStatus.DA]

    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PROPOSED,
                             db_index=True)
    created_at = models.DateTimeField(_("proposed"), default=timezone.now, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("proposed by"),
                                     help_text=_("Empty: proposed automatically when the Kaspi order was accepted."))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    merged_into = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="+",
                                    verbose_name=_("merged into"))
    # What the submit carries; chosen in the admin, or Al-Style's defaults (Основной) when sent.
    shipping_date = models.DateField(_("shipping date"), null=True, blank=True,
                                     help_text=_("Empty: the next working day (SUPPLIER_SHIPPING_DAYS)."))
    attorney = models.JSONField(_("power of attorney"), default=dict, blank=True)
    delivery = models.JSONField(_("delivery method"), default=dict, blank=True)
    external_id = models.CharField(_("our reference"), max_length=255, blank=True,
                                   help_text=_("The Kaspi order numbers, as Al-Style keeps them on its order."))
    expected_total = models.PositiveIntegerField(_("expected total, ₸"), default=0)
    # Sending: who has it, how often it was tried, and what the cart held when it was submitted.
    claimed_by = models.CharField(_("sent by process"), max_length=100, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    cart_filled = models.BooleanField(_("our lines put in the cart"), default=False, editable=False)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True,
                                        help_text=_("A submit went out: before anything is sent again, Al-Style's "
                                                    "newest orders are searched for it."))
    submitted_total = models.PositiveIntegerField(_("submitted total, ₸"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Al-Style's side.
    alstyle_id = models.PositiveBigIntegerField(_("Al-Style order"), null=True, blank=True, unique=True)
    alstyle_status = models.CharField(_("status at Al-Style"), max_length=4, choices=AlstyleStatus.choices,
                                      blank=True, db_index=True)
    alstyle_status_at = models.DateTimeField(_("status seen"), null=True, blank=True)
    merged_with = models.PositiveBigIntegerField(_("merged at Al-Style into order"), null=True, blank=True)
    answer = models.TextField(_("Al-Style's answer"), blank=True)
    message = models.TextField(_("last outcome"), blank=True)

    class Meta:
        verbose_name = _("supplier order")
        verbose_name_plural = _("supplier orders")
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("approve_supplierorder", _("Can approve supplier orders sent to Al-Style")),
            ("cancel_supplierorder", _("Can cancel supplier orders at Al-Style")),
        ]

    def __str__(self):
        return _("supplier order %(number)s") % {"number": self.pk}

    @property
    def is_open_at_alstyle(self):
        """Sent, and Al-Style has not finished with it: tracking reads its status."""
        return self.state == self.State.SENT and self.alstyle_status not in self.FINAL_STATUSES

    @property
    def tracked_id(self):
        """The Al-Style order whose status is this one's: the one it was merged into, once merged."""
        return self.merged_with or self.alstyle_id


class SupplierOrderLine(models.Model):
    """One Al-Style article to buy; article, name and price are copied so history survives product edits."""

    supplier_order = models.ForeignKey(SupplierOrder, models.CASCADE, related_name="lines",
                                       verbose_name=_("supplier order"))
    product = models.ForeignKey("catalog.Product", models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("product"))
    article = models.PositiveBigIntegerField(_("Al-Style article"))
    name = models.CharField(_("name"), max_length=1000, blank=True)
    needed = models.PositiveIntegerField(_("needed"), help_text=_("Units the Kaspi lines need."))
    quantity = models.PositiveIntegerField(_("to buy"))
    multiplicity = models.PositiveIntegerField(_("sold in multiples of"), null=True, blank=True)
    expected_price = models.PositiveIntegerField(_("expected price, ₸"), null=True, blank=True)
    cart_price = models.PositiveIntegerField(_("price in the cart, ₸"), null=True, blank=True)
    delivered = models.PositiveIntegerField(_("in Al-Style's order"), null=True, blank=True,
                                            help_text=_("Units Al-Style's order shows, as last read."))

    class Meta:
        verbose_name = _("supplier order line")
        verbose_name_plural = _("supplier order lines")
        ordering = ["supplier_order", "article"]
        constraints = [models.UniqueConstraint(fields=["supplier_order", "article"],
                                               name="one_line_per_article")]

    def __str__(self):
        return f"{self.article} × {self.quantity}"

    @property
    def rounded_up(self):
        return self.quantity > self.needed


class Coverage(models.Model):
    """Which Kaspi order line a supplier order buys for, and how many of its units."""

    supplier_order = models.ForeignKey(SupplierOrder, models.CASCADE, related_name="coverage",
                                       verbose_name=_("supplier order"))
    order = models.ForeignKey("orders.Order", models.CASCADE, related_name="supplier_coverage",
                              verbose_name=_("Kaspi order"))
    # The line may vanish at Kaspi (cancelled); what was bought for it stays in the history.
    entry = models.ForeignKey("orders.OrderEntry", models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("Kaspi order line"))
    article = models.PositiveBigIntegerField(_("Al-Style article"))
    units = models.PositiveIntegerField(_("units"))
    bought = models.PositiveIntegerField(_("units bought"), default=0,
                                         help_text=_("Units sent to Al-Style for this line: its reservation is "
                                                     "released by them."))
    # While its supplier order is live; a Kaspi line is served by one live supplier order at most.
    live = models.BooleanField(default=True, editable=False)
    # Al-Style cancelled or shorted it: the Kaspi line should come down to `keep` units.
    keep = models.PositiveIntegerField(_("units Al-Style supplies"), null=True, blank=True)
    short_at = models.DateTimeField(_("short since"), null=True, blank=True)

    class Meta:
        verbose_name = _("Kaspi line served")
        verbose_name_plural = _("Kaspi lines served")
        ordering = ["supplier_order", "pk"]
        constraints = [models.UniqueConstraint(fields=["entry"], condition=Q(live=True),
                                               name="one_live_supplier_order_per_line")]

    def __str__(self):
        return f"№{self.order.code}: {self.article} × {self.units}"


class SupplierOrderEvent(models.Model):
    """A supplier order's history, one row per step; `notify` rows are told to people once (alerts)."""

    supplier_order = models.ForeignKey(SupplierOrder, models.CASCADE, related_name="events",
                                       verbose_name=_("supplier order"))
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    state = models.CharField(_("state"), max_length=16, choices=SupplierOrder.State.choices)
    text = models.TextField(_("what happened"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                             verbose_name=_("user"))
    notify = models.BooleanField(_("people told"), default=False)

    class Meta:
        verbose_name = _("supplier order event")
        verbose_name_plural = _("supplier order history")
        ordering = ["-at", "-id"]

    def __str__(self):
        return self.text

    @classmethod
    def note(cls, supplier_order, text, user=None, *, notify=False):
        return cls.objects.create(supplier_order=supplier_order, state=supplier_order.state, text=text[:4000],
                                  user=user, notify=notify)
