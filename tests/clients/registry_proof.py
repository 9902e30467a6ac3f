"""Confluent's own schema-registry client and AVRO serializer against Brooklet's registry.

    registry_proof.py URL    registers, evolves and reads schemas through `brooklet server`

Uses the `confluent-kafka` package's SchemaRegistryClient, AvroSerializer and AvroDeserializer
(no Kafka broker: the serializer needs only the registry). Prints "ok" when every check holds.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext


def record(*fields):
    return json.dumps({"type": "record", "name": "Order", "namespace": "shop",
                       "fields": [{"name": n, "type": t, **d} for n, t, d in fields]})


V1 = record(("id", "long", {}), ("item", "string", {}))
# A new field with a default: reads V1's data.
V2 = record(("id", "long", {}), ("item", "string", {}), ("qty", "int", {"default": 1}))
# A new field without one: cannot.
BAD = record(("id", "long", {}), ("item", "string", {}), ("price", "double", {}))


def main(url):
    sr = SchemaRegistryClient({"url": url})
    ctx = SerializationContext("orders", MessageField.VALUE)
    # The serializer registers V1 under orders-value and frames the record with its id.
    data = AvroSerializer(sr, V1)({"id": 7, "item": "pen"}, ctx)
    assert data[0] == 0, data
    schema_id = int.from_bytes(data[1:5], "big")
    latest = sr.get_latest_version("orders-value")
    assert (latest.schema_id, latest.version) == (schema_id, 1), latest
    # The deserializer fetches the writer's schema by the id in the bytes.
    assert AvroDeserializer(sr)(data, ctx) == {"id": 7, "item": "pen"}
    # BACKWARD (the default) refuses a field without a default, with Confluent's code.
    try:
        sr.register_schema("orders-value", Schema(BAD, "AVRO"))
        raise SystemExit("an incompatible schema was registered")
    except SchemaRegistryError as e:
        assert e.http_status_code == 409 and e.error_code == 409, e
    assert not sr.test_compatibility("orders-value", Schema(BAD, "AVRO"))
    assert sr.test_compatibility("orders-value", Schema(V2, "AVRO"))
    v2_id = sr.register_schema("orders-value", Schema(V2, "AVRO"))
    assert v2_id != schema_id
    assert sr.get_versions("orders-value") == [1, 2]
    # The same schema under another subject has the same id.
    assert sr.register_schema("returns-value", Schema(V1, "AVRO")) == schema_id
    assert sorted(sr.get_subjects()) == ["orders-value", "returns-value"]
    # Data written with V1 is read with V2 (the default fills `qty`).
    reader = AvroDeserializer(sr, V2)
    assert reader(data, ctx) == {"id": 7, "item": "pen", "qty": 1}
    # Compatibility levels, per subject and global.
    sr.set_compatibility("orders-value", "FULL")
    assert sr.get_compatibility("orders-value") == "FULL"
    assert sr.get_compatibility() == "BACKWARD"
    try:
        sr.get_version("orders-value", 9)
        raise SystemExit("a missing version was found")
    except SchemaRegistryError as e:
        assert e.http_status_code == 404 and e.error_code == 40402, e
    # A soft delete: the versions go, the id stays readable.
    assert sr.delete_subject("returns-value") == [1]
    assert sr.get_subjects() == ["orders-value"]
    assert json.loads(sr.get_schema(schema_id).schema_str) == json.loads(V1)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
