"""Who is looking at an admin page, for display methods that only get the object.

Django calls an admin's display methods with the object alone; whether the
viewer may read personal data (eventstore.privacy.redaction) is a property of
the request. The mixin keeps the request's user in a context variable while
the page renders (each thread has its own), and `viewer_reads_personal_data`
answers for it; outside such a page it answers False.
"""

from __future__ import annotations

from contextvars import ContextVar

from .privacy.redaction import can_read_personal_data

_viewer: ContextVar = ContextVar("admin_viewer", default=None)


def viewer_reads_personal_data() -> bool:
    return can_read_personal_data(_viewer.get())


class ViewerAwareAdminMixin:
    def changeform_view(self, request, *args, **kwargs):
        return self._rendered_as(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._rendered_as(request, super().changelist_view, *args, **kwargs)

    @staticmethod
    def _rendered_as(request, view, *args, **kwargs):
        token = _viewer.set(request.user)
        try:
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()  # display methods run while rendering: render while we know the viewer
            return response
        finally:
            _viewer.reset(token)
