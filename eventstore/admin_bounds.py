"""What keeps the admin's event list bounded: a capped count and filters that ask no query.

Django's change list counts the filtered rows on every page, and its filter
for a text field lists the values with `SELECT DISTINCT` over the table:
both read the whole log, and take longer as it grows. Here the count stops at
COUNT_LIMIT rows (later pages are reached through the explorer's keyset
pages, `/explorer/`), and the type and source filters list what the registry
knows, without reading the log.

The list is in position order only (newest first by default, or oldest
first; EventAdmin refuses a sort by another column and facet counts, each a
read of the whole log). Its positions are found first, window by window
(`EventChangeList`), and a page reads its events at its own positions: no
statement plans over, and locks, every partition of the log, however many it has.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import InvalidPage, Paginator
from django.utils.functional import cached_property

from .registry import registered_event_types
from .selectors import in_windows

COUNT_LIMIT = 10_000


class BoundedCountPaginator(Paginator):
    """A paginator that counts at most COUNT_LIMIT rows (one LIMITed subquery along an index)."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_LIMIT].count()


# The change list's orderings that are position order: those the windows can walk.
_POSITION_ORDER = ("-position", "-pk", "position", "pk")


class EventChangeList(ChangeList):
    """The event list in position order: its positions first, up to COUNT_LIMIT, then a page's events.

    Without a search, the filtered events' positions come from windows of
    partitions, from the newest (or the oldest) on (partitions.read_in_windows),
    each statement planned over its window only; a search's positions are
    values already (EventAdmin.get_search_results), read in one statement. The
    page then reads the events at its own positions, values the planner prunes
    with. The count, the pages and their order are what the queryset, counted
    up to COUNT_LIMIT and paged, gave. No other order is served: EventAdmin
    refuses a sort by another column (a sort of the whole log).
    """

    def get_results(self, request):
        # Position is unique: ordered by it first, what follows it orders nothing.
        first = next(iter(self.queryset.query.order_by), None)
        if first not in _POSITION_ORDER:
            raise ImproperlyConfigured(f"the event list reads in position order only, not by {first!r}")
        positions = self._listed_positions(newest_first=first.startswith("-"))
        paginator = Paginator(positions, self.list_per_page)
        self.result_count = paginator.count
        self.can_show_all = self.result_count <= self.list_max_show_all
        self.multi_page = self.result_count > self.list_per_page
        if (self.show_all and self.can_show_all) or not self.multi_page:
            shown = positions
        else:
            try:
                shown = paginator.page(self.page_num).object_list
            except InvalidPage as invalid:
                raise IncorrectLookupParameters from invalid
        self.result_list = self.queryset.filter(position__in=shown)[: len(shown)]
        # The unfiltered count would read every partition: EventAdmin shows none (show_full_result_count).
        self.show_full_result_count, self.full_result_count = False, None
        self.show_admin_actions = True  # as Django decides when the full count is not shown
        self.paginator = paginator

    def _listed_positions(self, *, newest_first: bool) -> list[int]:
        listed = self.queryset.values_list("position", flat=True)
        if self.query.strip():  # the search's positions, as values: pruned when planned
            return list(listed[:COUNT_LIMIT])
        return in_windows(listed, COUNT_LIMIT, newest_first=newest_first)


class RegisteredTypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(registered_event_types())]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


class RegisteredSourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = sorted({event_type.source for event_type in registered_event_types().values()})
        return [(source, source) for source in sources]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset
