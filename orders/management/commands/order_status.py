from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext, gettext_lazy

from common.commands import BaseCommand
from orders import changes, sync
from orders.kaspi import KaspiError
from orders.models import Order, StatusChange

ACTIONS = ["accept", "complete", "cancel", "assemble", "arrived", "returned"]


class Command(BaseCommand):
    help = gettext_lazy(
        "Request, approve and send one status change for an order, through the same service as the admin. "
        "`complete` without --security-code asks Kaspi to send the buyer a code; with it, completes the order. "
        "`cancel --sku SKU --keep Q` cancels part of one line; `assemble --places N` hands a Kaspi Delivery "
        "order over; `arrived` marks a pre-order's goods arrived; `returned` marks returned goods back."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help=gettext_lazy("the order number (code) shown to people"))
        parser.add_argument("action", choices=ACTIONS, help=gettext_lazy("what to do with the order"))
        parser.add_argument("--security-code", default="",
                            help=gettext_lazy("the code the buyer reads out (complete)"))
        parser.add_argument("--reason", default="", choices=["", *StatusChange.Reason.values],
                            help=gettext_lazy("cancellation reason (cancel)"))
        parser.add_argument("--comment", default="",
                            help=gettext_lazy("cancellation comment, at most 1000 characters"))
        parser.add_argument("--places", type=int, help=gettext_lazy("number of parcels (assemble)"))
        parser.add_argument("--sku", default="", help=gettext_lazy("the line to cancel part of (cancel)"))
        parser.add_argument("--keep", type=int, help=gettext_lazy("units of that line to keep (cancel --sku)"))
        parser.add_argument("--approved-by", required=True, metavar="USERNAME",
                            help=gettext_lazy("the user who approves the change"))
        parser.add_argument("--requested-by", metavar="USERNAME",
                            help=gettext_lazy("the user who requests the change (default: the approver)"))

    def handle(self, *args, code, action, approved_by, requested_by, sku, keep, places, **options):
        approver = self.user(approved_by)
        requester = self.user(requested_by) if requested_by else approver
        # Before anything is touched: the same permissions the admin asks for.
        if not requester.has_perm("orders.add_statuschange"):
            raise CommandError(gettext("%(user)s may not request status changes (orders.add_statuschange)")
                               % {"user": requester.username})
        if not approver.has_perm("orders.approve_statuschange"):
            raise CommandError(gettext("%(user)s may not approve status changes (orders.approve_statuschange)")
                               % {"user": approver.username})
        if action == "cancel" and sku:
            action, extras = StatusChange.Action.CANCEL_ENTRY, {"sku": sku, "keep": keep}
        elif keep is not None:
            raise CommandError(gettext("--keep goes with --sku (cancel part of a line)"))
        else:
            extras = {"places": places} if places is not None else {}
        try:
            order = self.order(code)
            change = changes.status_change_request(
                order=order, action=action, user=requester, reason=options["reason"], comment=options["comment"],
                security_code=options["security_code"], **extras,
            )
            if change.state == StatusChange.State.PENDING:
                changes.status_change_approve(change=change, user=approver, queue=False)
            change = changes.status_change_send(change_id=change.pk)
        except (changes.StatusChangeRefused, KaspiError) as exc:
            raise CommandError(str(exc)) from None
        line = gettext("order %(code)s: %(action)s — %(state)s: %(message)s") % {
            "code": order.code, "action": change.get_action_display(), "state": change.get_state_display(),
            "message": change.message}
        if change.state not in (StatusChange.State.DONE, StatusChange.State.APPLYING):
            raise CommandError(line)
        self.stdout.write(line)

    def user(self, username):
        try:
            return get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(gettext("no active user %(user)r") % {"user": username}) from None

    def order(self, code):
        """The order here, or imported from Kaspi by its number."""
        order = Order.objects.filter(code=code).first()
        if order is None:
            order = sync.order_import_by_code(code=code)
        if order is None:
            raise CommandError(gettext("Kaspi has no order %(code)s") % {"code": code})
        return order
