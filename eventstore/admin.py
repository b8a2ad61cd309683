"""Events in the admin: read-only, filterable, with readable JSON."""

import json

from django.contrib import admin, messages
from django.contrib.admin.views.main import IS_FACETS_VAR, ORDER_VAR
from django.http import HttpResponseBadRequest
from django.utils.html import format_html

from .admin_bounds import (
    COUNT_LIMIT,
    BoundedCountPaginator,
    EventChangeList,
    RegisteredSourceFilter,
    RegisteredTypeFilter,
)
from .admin_viewer import ViewerAwareAdminMixin, note_shown_events, viewer_reads_personal_data
from .models import Checkpoint, ErasureReceipt, Event, ParkedEvent, PersonalDataView
from .parking import parked_event_retry
from .privacy.receipts import failed_places
from .privacy.redaction import redact_event
from .read_only_admin import ReadOnlyAdmin
from .reading import read_events_by_id
from .selectors import search_positions


def _pretty(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2, sort_keys=True)
    )


def _as_read(obj: Event):
    """The event as this viewer may read it: personal values opened (or redacted), data upcast."""
    if not hasattr(obj, "_as_read"):
        event = read_events_by_id([obj.id])[0]
        if viewer_reads_personal_data():
            note_shown_events([event])
            obj._as_read = event
        else:
            obj._as_read = redact_event(event)
    return obj._as_read


def refused_list_parameter(params, list_display) -> str | None:
    """Why the event list refuses these parameters (a sort by another column than position, or
    facet counts), or None: Django would sort, or count, the whole log, or skip an unknown
    column's sort silently."""
    position = str(list_display.index("position"))
    columns = params.get(ORDER_VAR)
    if columns and any(column.removeprefix("-") != position for column in columns.split(".")):
        return (
            f"The event list sorts by position only (?{ORDER_VAR}={position} oldest first, "
            f"?{ORDER_VAR}=-{position} newest first): sorted by another column it would sort the whole "
            "log. Filter by type, source or date instead, or search a stream or correlation id."
        )
    if IS_FACETS_VAR in params:
        return (
            "The event list shows no filter counts: each would count the whole log. "
            "Counts by type and source are in /metrics (platform_events_appended_total, from the event statistics)."
        )
    return None


@admin.register(Event)
class EventAdmin(ViewerAwareAdminMixin, ReadOnlyAdmin):
    list_display = ("position", "type", "stream_id", "stream_version", "source", "recorded_at")
    # Bounded on every page, however long the log (admin_bounds says how).
    list_filter = (RegisteredTypeFilter, RegisteredSourceFilter, ("recorded_at", admin.DateFieldListFilter))
    paginator = BoundedCountPaginator
    search_fields = ("stream_id", "correlation_id")  # exact, see get_search_results
    ordering = ("-position",)
    # Position order only, newest or oldest first: the windows walk it (admin_bounds). Another
    # column's order would be a sort of the whole log; no window gives it (not even
    # recorded_at's: a transaction's events take its positions, but their times interleave).
    sortable_by = ("position",)
    # Facet counts would count every filter value over the whole log, on every page.
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = (
        "position",
        "id",
        "stream_id",
        "stream_version",
        "type",
        "schema_version",
        "pretty_data",
        "pretty_metadata",
        "source",
        "correlation_id",
        "causation_id",
        "recorded_at",
    )
    exclude = ("data", "metadata")
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        refused = refused_list_parameter(request.GET, self.list_display)
        if refused:
            return HttpResponseBadRequest(refused, content_type="text/plain; charset=utf-8")
        return super().changelist_view(request, extra_context)

    def get_changelist(self, request, **kwargs):
        return EventChangeList  # its positions first, window by window, then a page's events

    def get_search_results(self, request, queryset, search_term):
        """A stream id or a correlation id, matched exactly (each by its index; `=` would be iexact)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # Positions first, from the key table (the log has no index by stream) and from the
        # correlation index (an OR of the two conditions on the log could use neither); as
        # values, they prune the change list's reads to the partitions that hold them.
        return queryset.filter(position__in=search_positions(term, limit=COUNT_LIMIT)), False

    @admin.display(description="data")
    def pretty_data(self, obj):
        return _pretty(_as_read(obj).data)

    @admin.display(description="metadata")
    def pretty_metadata(self, obj):
        return _pretty(_as_read(obj).metadata)


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "updated_at")
    readonly_fields = ("name", "position", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ResolvedFilter(admin.SimpleListFilter):
    title = "resolved"
    parameter_name = "resolved"

    def lookups(self, request, model_admin):
        return [("no", "waiting for a retry"), ("yes", "resolved")]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(resolved_at__isnull=self.value() == "no")
        return queryset


@admin.register(ParkedEvent)
class ParkedEventAdmin(ReadOnlyAdmin):
    """Dead letters: read-only, retried through eventstore.parking (the same path as the command)."""

    list_display = (
        "event_type",
        "subscriber",
        "stream_id",
        "position",
        "attempts",
        "parked_at",
        "resolved_at",
    )
    list_filter = ("subscriber", ResolvedFilter, "event_type")
    search_fields = ("=stream_id", "=event_id")
    readonly_fields = [f.name for f in ParkedEvent._meta.fields if f.name != "error"] + ["error_text"]
    exclude = ("error",)
    actions = ["retry_selected"]

    @admin.display(description="error")
    def error_text(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.error)

    @admin.action(description="Retry selected parked events")
    def retry_selected(self, request, queryset):
        retried, failed = 0, []
        for parked_id in queryset.filter(resolved_at__isnull=True).values_list("pk", flat=True):
            if parked_event_retry(parked_id=parked_id):
                retried += 1
            else:
                failed.append(ParkedEvent.objects.get(pk=parked_id))
        if retried:
            self.message_user(request, f"{retried} parked event(s) retried successfully.", messages.SUCCESS)
        for parked in failed:
            self.message_user(
                request,
                f"{parked.event_type} #{parked.position} failed again: {parked.error}",
                messages.ERROR,
            )
        if not retried and not failed:
            self.message_user(request, "Nothing to retry: the selected events are resolved.", messages.INFO)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a dead letter is resolved by a retry, never deleted
        return actions


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(ReadOnlyAdmin):
    """What each forget erased and where it checked; written only by the forget (eventstore.privacy.receipts)."""

    list_display = ("subject", "passed", "failed_places", "finished_at", "requested_by_id")
    list_filter = ("passed",)
    search_fields = ("=subject",)
    readonly_fields = (
        "subject",
        "passed",
        "started_at",
        "finished_at",
        "requested_by_id",
        "pretty_erased",
        "pretty_checks",
    )
    exclude = ("erased", "checks")

    @admin.display(description="readable copies in")
    def failed_places(self, obj):
        return ", ".join(failed_places(obj)) or "—"

    @admin.display(description="erased")
    def pretty_erased(self, obj):
        return _pretty(obj.erased)

    @admin.display(description="checks")
    def pretty_checks(self, obj):
        return _pretty(obj.checks)


@admin.register(PersonalDataView)
class PersonalDataViewAdmin(ReadOnlyAdmin):
    """Which staff account was shown which personal fields, where and when (never the values)."""

    list_display = ("viewed_at", "viewer_id", "place", "reference", "field_names")
    list_filter = ("place",)
    search_fields = ("=viewer_id", "=reference")
    readonly_fields = ("viewed_at", "viewer_id", "place", "reference", "subjects", "event_ids", "field_names")
