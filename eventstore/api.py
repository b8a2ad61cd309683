"""Staff-only read API over the log (API.md, "Events"); personal values need their own permission."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from .privacy.disclosures import events_shown_to
from .reading import read_all, read_stream
from .selectors import causal_chain
from .serializers import (
    CorrelationQuerySerializer,
    CorrelationSerializer,
    EventListQuerySerializer,
    EventPageSerializer,
    EventSerializer,
    StreamQuerySerializer,
)


class EventListApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[EventListQuerySerializer], responses=EventPageSerializer)
    def get(self, request):
        query = EventListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events = read_all(
            after=params["after"],
            limit=params["limit"],
            types=[params["type"]] if params.get("type") else None,
            source=params.get("source"),
            stream_id=params.get("stream_id"),
            correlation_id=params.get("correlation_id"),
        )
        next_after = events[-1].position if events else params["after"]
        reference = params.get("stream_id") or params.get("correlation_id") or ""
        shown = events_shown_to(request.user, events, place="api:events", reference=reference)
        page = {"results": [e.as_dict() for e in shown], "next_after": next_after}
        return Response(EventPageSerializer(page).data)


class StreamApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[StreamQuerySerializer], responses=EventSerializer(many=True))
    def get(self, request, stream_id: str):
        # A NUL byte cannot reach Postgres (a DataError, i.e. a 500); no stream id contains one.
        if "\x00" in stream_id or len(stream_id) > 200:
            raise ValidationError({"stream_id": ["Not a stream id."]})
        query = StreamQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = read_stream(stream_id, **query.validated_data)
        events = events_shown_to(request.user, events, place="api:stream", reference=stream_id)
        return Response(EventSerializer([e.as_dict() for e in events], many=True).data)


class CorrelationApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[CorrelationQuerySerializer], responses=CorrelationSerializer)
    def get(self, request, correlation_id):
        query = CorrelationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        chain = causal_chain(correlation_id, **query.validated_data)
        full = len(chain) == query.validated_data["limit"]
        page = {
            "correlation_id": correlation_id,
            "results": events_shown_to(
                request.user, chain, place="api:correlation", reference=correlation_id
            ),
            "next_after": chain[-1]["position"] if full else None,
        }
        return Response(CorrelationSerializer(page).data)
