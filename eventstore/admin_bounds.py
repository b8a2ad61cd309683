"""What keeps the admin's event list bounded: a capped count and filters that ask no query.

Django's change list counts the filtered rows on every page, and its filter
for a text field lists the values with `SELECT DISTINCT` over the table:
both read the whole log, and take longer as it grows. Here the count stops at
COUNT_LIMIT rows (later pages are reached through the explorer's keyset
pages, `/explorer/`), and the type and source filters list what the registry
knows, without reading the log.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from .registry import registered_event_types

COUNT_LIMIT = 10_000


class BoundedCountPaginator(Paginator):
    """A paginator that counts at most COUNT_LIMIT rows (one LIMITed subquery along an index)."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_LIMIT].count()


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
