"""Admin pieces every app uses."""

from django.contrib import admin
from django.db.models import Q

from .search import phone_query


class ReadOnlyLogAdmin(admin.ModelAdmin):
    """A log written only by the code and kept as it happened: nobody adds, edits or deletes rows,
    superusers included (no delete action, no delete button, the delete page answers 403)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PhoneSearchMixin:
    """Admin search that also reads the whole query as one phone (`8 747 123 45 67`, `+7 (747) 123-45-67`,
    `747 123 45 67`) and finds it in `phone_search_field`, a field holding `common.crypto.keyed_phone`. The phone
    is searched only where `get_search_fields` lists that field, so whoever may not search phones does not."""

    phone_search_field = None

    def get_search_results(self, request, queryset, search_term):
        phone = None
        if self.phone_search_field in {name.lstrip("=^@") for name in self.get_search_fields(request)}:
            phone = phone_query(self.phone_search_field, search_term)
        if phone is None:
            return super().get_search_results(request, queryset, search_term)
        # Word by word, as usual, or the phone; the subquery leaves no duplicates behind.
        found, _ = super().get_search_results(request, self.model._default_manager.all(), search_term)
        return queryset.filter(Q(pk__in=found.values("pk")) | phone), False
