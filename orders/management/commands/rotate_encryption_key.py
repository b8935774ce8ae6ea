from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from common.commands import BaseCommand
from common.crypto import WrongKey
from orders.personal import BATCH, customer_data_check, customer_data_rotate


class Command(BaseCommand):
    help = gettext_lazy(
        "Encrypt the customers' data again under the first key of FIELD_ENCRYPTION_KEYS=new,old, in batches. "
        "Stopped, it goes on where it stopped when run again; after it, the old key may be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help=gettext_lazy("write nothing: count the orders left in plain text or under an "
                                              "older key, and fail if there are any"))
        parser.add_argument("--batch-size", type=int, default=BATCH,
                            help=gettext_lazy("orders per batch (default: %(default)s)"))

    def handle(self, *args, check, batch_size, **options):
        try:
            if check:
                return self.check_only(batch_size)
            rewritten = customer_data_rotate(batch_size=batch_size, progress=self.progress)
        except WrongKey as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(ngettext(
            "%(count)d order encrypted again under the first key. Every order is under it now: older keys may "
            "be removed from FIELD_ENCRYPTION_KEYS.",
            "%(count)d orders encrypted again under the first key. Every order is under it now: older keys may "
            "be removed from FIELD_ENCRYPTION_KEYS.", rewritten) % {"count": rewritten}))

    def progress(self, seen, total):
        self.stdout.write(ngettext("%(seen)d of %(total)d order done", "%(seen)d of %(total)d orders done", total)
                          % {"seen": seen, "total": total})

    def check_only(self, batch_size):
        counts = customer_data_check(batch_size=batch_size)
        self.stdout.write(ngettext("%(rows)d order: %(plain)d in plain text, %(old_key)d under an older key",
                                   "%(rows)d orders: %(plain)d in plain text, %(old_key)d under an older key",
                                   counts["rows"]) % counts)
        if counts["plain"] or counts["old_key"]:
            raise CommandError(_("some customer data is not under the first key: run manage.py rotate_encryption_key"))
