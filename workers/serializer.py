"""Job arguments travel as JSON (ids and plain values), never pickle."""

from rq.serializers import JSONSerializer

SERIALIZER = JSONSerializer
