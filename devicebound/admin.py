from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin
from devicebound.models import DeviceBinding


@admin.register(DeviceBinding)
class DeviceBindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("session", "algorithm", "thumbprint", "created_at", "refreshed_at")
    list_select_related = ("session__user",)
    ordering = ("-created_at",)
    show_full_result_count = False
