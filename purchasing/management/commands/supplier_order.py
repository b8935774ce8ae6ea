from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy

from catalog.alstyle import AlstyleError
from common.commands import BaseCommand
from orders.kaspi import KaspiError
from orders.models import Order
from orders.sync import order_import_by_code
from purchasing import services
from purchasing.models import SupplierOrder
from purchasing.sending import supplier_order_send

State = SupplierOrder.State


class Command(BaseCommand):
    help = gettext_lazy(
        "Propose, approve and send the supplier order for a Kaspi order's lines that own stock and earlier "
        "supplier orders do not cover, through the same service as the admin; prints Al-Style's order number."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help=gettext_lazy("the Kaspi order number (code) shown to people"))
        parser.add_argument("--approved-by", required=True, metavar="USERNAME",
                            help=gettext_lazy("the user who approves the supplier order"))

    def handle(self, *args, code, approved_by, **options):
        approver = self.user(approved_by)
        if not approver.has_perm("purchasing.approve_supplierorder"):  # before anything is touched
            raise CommandError(gettext("%(user)s may not approve supplier orders (purchasing.approve_supplierorder)")
                               % {"user": approver.username})
        try:
            order = self.order(code)
            supplier_order = self.unsent(order) or services.supplier_order_propose(order=order, user=approver)
            if supplier_order is None:
                self.stdout.write(self.covered(order))
                return
            if supplier_order.state in services.EDITABLE:
                services.supplier_order_approve(supplier_order=supplier_order, user=approver, queue=False)
            supplier_order = supplier_order_send(supplier_order_id=supplier_order.pk)
        except (services.SupplierOrderRefused, AlstyleError, KaspiError) as exc:
            raise CommandError(str(exc)) from None
        line = gettext("order %(code)s: supplier order %(number)s — %(state)s: %(message)s") % {
            "code": order.code, "number": supplier_order.pk, "state": supplier_order.get_state_display(),
            "message": supplier_order.message}
        if supplier_order.state != State.SENT:
            raise CommandError(line)
        self.stdout.write(gettext("%(line)s\nAl-Style order: %(number)s") % {"line": line,
                                                                             "number": supplier_order.alstyle_id})

    def unsent(self, order):
        """A supplier order already buying for this Kaspi order and not sent yet: that one goes."""
        return (SupplierOrder.objects.filter(coverage__order=order, coverage__live=True, state__in=SupplierOrder.UNSENT)
                .order_by("pk").first())

    def covered(self, order):
        sent = SupplierOrder.objects.filter(coverage__order=order, state=State.SENT).distinct().order_by("pk")
        numbers = ", ".join(gettext("%(number)s (Al-Style order %(alstyle)s)") % {"number": so.pk,
                                                                                  "alstyle": so.alstyle_id}
                            for so in sent)
        if numbers:
            return gettext("order %(code)s: nothing to send; already sent as supplier order %(numbers)s") % {
                "code": order.code, "numbers": numbers}
        return gettext("order %(code)s: nothing to send; own stock covers its lines") % {"code": order.code}

    def user(self, username):
        try:
            return get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(gettext("no active user %(user)r") % {"user": username}) from None

    def order(self, code):
        """The order here, or imported from Kaspi by its number."""
        order = Order.objects.filter(code=code).first() or order_import_by_code(code=code)
        if order is None:
            raise CommandError(gettext("Kaspi has no order %(code)s") % {"code": code})
        return order
