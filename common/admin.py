"""Admin pieces every app uses."""

from django.contrib import admin


class ReadOnlyLogAdmin(admin.ModelAdmin):
    """A log written only by the code: nobody adds or edits rows; a superuser may clear them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
