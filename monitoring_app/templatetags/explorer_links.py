"""Links to explorer pages that stay in the explorer whatever the stream id holds.

Stream ids can be built from user input (`x/../../admin/...`). `{% url %}`
keeps "/" as is, and a browser then resolves the "../" segments of the link
to a page outside the explorer. Here every "/" (and anything else but
letters, digits and `-_.~`) is percent-encoded, so the id is one path
segment; the server decodes it back to the same stream id.
"""

from __future__ import annotations

from urllib.parse import quote

from django import template
from django.urls import reverse

register = template.Library()
_PLACEHOLDER = "stream-id"


@register.filter
def stream_url(stream_id: str) -> str:
    page = reverse("monitoring:stream", kwargs={"stream_id": _PLACEHOLDER})
    return page.replace(_PLACEHOLDER, quote(str(stream_id), safe=""), 1)
