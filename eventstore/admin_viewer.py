"""Who is looking at an admin page, for display methods that only get the object; what it showed them.

Django calls an admin's display methods with the object alone; whether the
viewer may read personal data (eventstore.privacy.redaction) is a property of
the request. The mixin keeps the request's user in a context variable while
the page renders (each thread has its own), and `viewer_reads_personal_data`
answers for it; outside such a page it answers False.

Display methods that show personal values in the clear note them
(`note_shown_events`, `note_shown_value`); after rendering, the mixin records
one audit row for the page (eventstore.privacy.disclosures). If that row
cannot be written, a GET page is rendered again with the values redacted.
"""

from __future__ import annotations

from contextvars import ContextVar

from .privacy.disclosures import Shown, record_view
from .privacy.redaction import can_read_personal_data

_viewer: ContextVar = ContextVar("admin_viewer", default=None)
_shown: ContextVar[Shown | None] = ContextVar("admin_shown", default=None)


def viewer_reads_personal_data() -> bool:
    return can_read_personal_data(_viewer.get())


def note_shown_events(events) -> None:
    """These events are shown as read (call only when `viewer_reads_personal_data()`)."""
    if (shown := _shown.get()) is not None:
        shown.add_events(events)


def note_shown_value(subject: str, field_name: str, value) -> None:
    if (shown := _shown.get()) is not None:
        shown.add_value(subject, field_name, value)


class ViewerAwareAdminMixin:
    def changeform_view(self, request, *args, **kwargs):
        return self._audited(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._audited(request, super().changelist_view, *args, **kwargs)

    def _audited(self, request, view, *args, **kwargs):
        shown = Shown()
        response = self._rendered_as(request, request.user, shown, view, *args, **kwargs)
        place = f"admin:{self.opts.model_name}"
        recorded = not shown or record_view(request.user, shown, place=place, reference=request.path)
        if not recorded and request.method == "GET":  # no disclosure without its record: again, redacted
            response = self._rendered_as(request, None, Shown(), view, *args, **kwargs)
        return response

    @staticmethod
    def _rendered_as(request, viewer, shown: Shown, view, *args, **kwargs):
        viewer_token, shown_token = _viewer.set(viewer), _shown.set(shown)
        try:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()  # display methods run while rendering: render while we know the viewer
            return response
        finally:
            _viewer.reset(viewer_token)
            _shown.reset(shown_token)
