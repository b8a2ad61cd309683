from rest_framework import serializers


class EventSerializer(serializers.Serializer):
    """The event envelope of DESIGN.md, as served by the API."""

    id = serializers.UUIDField()
    position = serializers.IntegerField()
    stream_id = serializers.CharField()
    stream_version = serializers.IntegerField()
    type = serializers.CharField()
    schema_version = serializers.IntegerField()
    data = serializers.JSONField()
    metadata = serializers.JSONField()
    source = serializers.CharField()
    correlation_id = serializers.UUIDField()
    causation_id = serializers.UUIDField(allow_null=True)
    recorded_at = serializers.DateTimeField()


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next_after = serializers.IntegerField()


class EventListQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    type = serializers.CharField(max_length=100, required=False)
    stream_id = serializers.CharField(max_length=200, required=False)
    correlation_id = serializers.UUIDField(required=False)
    source = serializers.CharField(max_length=50, required=False)


class StreamQuerySerializer(serializers.Serializer):
    after_version = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=1000)


class CorrelationQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=1000)


class CausalEventSerializer(EventSerializer):
    caused = serializers.ListField(child=serializers.UUIDField(), help_text="ids of events this one caused")


class CorrelationSerializer(serializers.Serializer):
    correlation_id = serializers.UUIDField()
    results = CausalEventSerializer(many=True)
    next_after = serializers.IntegerField(
        allow_null=True, help_text="`after` of the next page; null: no more"
    )
