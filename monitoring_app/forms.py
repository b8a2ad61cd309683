"""The explorer's filter form: validates query parameters so bad input is a message, not a 500."""

from __future__ import annotations

from django import forms

from .selectors import SINCE_CHOICES, EventFilter, known_types_and_sources


class EventFilterForm(forms.Form):
    type = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False)
    stream_id = forms.CharField(required=False, max_length=200, label="Stream")
    since = forms.ChoiceField(
        required=False,
        choices=[("", "any time"), *((key, label) for key, (label, _) in SINCE_CHOICES.items())],
        label="Time",
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        types, sources = known_types_and_sources()
        self.fields["type"].choices = [("", "any type"), *((t, t) for t in types)]
        self.fields["source"].choices = [("", "any source"), *((s, s) for s in sources)]

    def to_filter(self) -> EventFilter:
        data = self.cleaned_data
        return EventFilter(
            type=data["type"],
            source=data["source"],
            stream_id=data["stream_id"].strip(),
            since=data["since"],
            before=data["before"],
        )
