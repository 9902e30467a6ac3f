"""A Kafka client Brooklet did not write (confluent-kafka) on both ends of a Brooklet query.

    kafka_proof.py produce BOOTSTRAP SUFFIX ROUND   writes auctions and a round of bids
    kafka_proof.py check BOOTSTRAP SUFFIX ROUNDS    reads Brooklet's outputs and checks them
    kafka_proof.py bulk BOOTSTRAP SUFFIX N          writes N numbered records to bulk_SUFFIX
    kafka_proof.py bulkcheck BOOTSTRAP SUFFIX N     checks BULK_OUT_SUFFIX holds each once
    kafka_proof.py countcheck BOOTSTRAP SUFFIX N    checks BULK_COUNTS_SUFFIX's counts per key
    kafka_proof.py groupcheck BOOTSTRAP SUFFIX N    checks BULK_GROUPS_SUFFIX's counts per group
    kafka_proof.py avro BOOTSTRAP SUFFIX URL        writes AVRO bids (Confluent's AvroSerializer, the
                                                    registry at URL) to avro_in_SUFFIX
    kafka_proof.py avrocheck BOOTSTRAP SUFFIX URL   decodes AVRO_OUT_SUFFIX with fastavro and checks it
    kafka_proof.py protobuf BOOTSTRAP SUFFIX URL    writes PROTOBUF bids (Confluent's ProtobufSerializer)
                                                    to proto_in_SUFFIX
    kafka_proof.py protocheck BOOTSTRAP SUFFIX URL  decodes PROTO_OUT_SUFFIX with the protobuf package
    kafka_proof.py count BOOTSTRAP TOPIC 0          prints the records the broker says TOPIC has
    kafka_proof.py count BOOTSTRAP TOPIC min        ... the fewest any partition of TOPIC has
    kafka_proof.py configs BOOTSTRAP TOPIC 0        prints TOPIC's partitions and settings

Bids are keyed by auction (Java's murmur2 partitioner, as Kafka's Java clients and ksqlDB use),
carry a `source` header and Kafka timestamps; each round is 60 bids over 40 s of event time.
`check` recomputes what the queries in tests/kafka.rs must have written, from the same
deterministic input, and compares: the latest value per windowed key of the tumbling
aggregation (keys in ksqlDB's windowed format: the key, then the window start as 8 bytes), and
every joined row exactly once, in the partition murmur2 gives its key.
"""
import json
import struct
import sys
import time
from collections import Counter

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BASE = 1_700_000_000_000
AUCTIONS = {f"a{i}": f"cat{i % 2}" for i in range(5)}
PER_ROUND = 60


def bids(round_no):
    for i in range(PER_ROUND):
        n = round_no * PER_ROUND + i
        yield (f"a{n % 5}", {"bidder": f"b{n % 7}", "price": 10 + n % 13}, BASE + n * 700)


def murmur2(data):
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2)."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = struct.unpack_from("<I", data, i)[0]
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = data[length - rest:]
    if rest == 3:
        h ^= tail[2] << 16
    if rest >= 2:
        h ^= tail[1] << 8
    if rest >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_of(key, partitions):
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def produce(bootstrap, suffix, round_no):
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                  "enable.idempotence": True})
    if round_no == 0:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        made = admin.create_topics([NewTopic(f"{t}_{suffix}", 3, 1) for t in ("bids", "auctions")])
        for f in made.values():
            f.result(30)
        for a, cat in AUCTIONS.items():
            p.produce(f"auctions_{suffix}", key=a, value=json.dumps({"category": cat}),
                      timestamp=BASE - 1000)
        p.flush(30)
    for key, value, ts in bids(round_no):
        p.produce(f"bids_{suffix}", key=key, value=json.dumps(value), timestamp=ts,
                  headers=[("source", b"python")])
    left = p.flush(30)
    assert left == 0, f"{left} records not delivered"


def consume(bootstrap, topic, expected_at_least):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"proof-{topic}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10).topics[topic]
    parts = sorted(md.partitions)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, idle = [], 0
    deadline = time.monotonic() + 300
    while idle < 8:
        if time.monotonic() > deadline:
            raise SystemExit(f"{topic}: {len(out)} records after 300 s, expected {expected_at_least}")
        m = c.poll(0.25)
        if m is None:
            idle += 1 if len(out) >= expected_at_least else 0
            continue
        if m.error():
            raise SystemExit(f"consume {topic}: {m.error()}")
        idle = 0
        out.append(m)
    c.close()
    return out, len(parts)


def check(bootstrap, suffix, rounds):
    all_bids = [b for r in range(rounds) for b in bids(r)]
    # The tumbling aggregation: latest value per (auction, window start).
    want = {}
    for key, value, ts in all_bids:
        start = ts - ts % 10_000
        n, total = want.get((key, start), (0, 0))
        want[(key, start)] = (n + 1, total + value["price"])
    msgs, parts = consume(bootstrap, f"PER_WINDOW_{suffix}", len(want))
    got = {}
    for m in msgs:
        k = m.key()
        auction, start = k[:-8].decode(), struct.unpack(">q", k[-8:])[0]
        v = json.loads(m.value())
        got[(auction, start)] = (v["N"], v["TOTAL"])
        assert m.partition() == partition_of(k[:-8], parts), f"windowed key (partitioned by its base key, as Kafka Streams does) {k!r} in {m.partition()}"
    assert got == want, f"windowed totals differ:\n got {sorted(got.items())}\nwant {sorted(want.items())}"
    # The stream-table join: every bid once, with its auction's category and its header.
    want_rows = Counter(
        (key, json.dumps({"BIDDER": v["bidder"], "PRICE": v["price"],
                          "CATEGORY": AUCTIONS[key], "SRC": "python"}, sort_keys=True), ts)
        for key, v, ts in all_bids)
    msgs, parts = consume(bootstrap, f"ENRICHED_{suffix}", len(all_bids))
    got_rows = Counter()
    for m in msgs:
        got_rows[(m.key().decode(), json.dumps(json.loads(m.value()), sort_keys=True),
                  m.timestamp()[1])] += 1
        assert m.partition() == partition_of(m.key(), parts), "joined row in the wrong partition"
    assert got_rows == want_rows, (
        f"joined rows differ: missing {want_rows - got_rows}, extra {got_rows - want_rows}")
    print(f"ok: {len(want)} windows, {len(all_bids)} joined rows")


def bulk(bootstrap, suffix, n):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(f"bulk_{suffix}", 2, 1)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                  "linger.ms": 20})
    for i in range(n):
        p.produce(f"bulk_{suffix}", key=f"k{i % 50}", value=json.dumps({"n": i, "g": f"g{i % 13}"}),
                  timestamp=BASE + i)
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def bulkcheck(bootstrap, suffix, n):
    msgs, _ = consume(bootstrap, f"BULK_OUT_{suffix}", n)
    seen = Counter(json.loads(m.value())["N"] for m in msgs)
    dup = {k: c for k, c in seen.items() if c > 1}
    missing = [i for i in range(n) if i not in seen]
    assert not dup and not missing, (
        f"{len(dup)} duplicated (e.g. {list(dup.items())[:5]}), {len(missing)} missing "
        f"(e.g. {missing[:5]}) of {n}")
    print(f"ok: {n} records exactly once")


def countcheck(bootstrap, suffix, n):
    """BULK_COUNTS_SUFFIX's latest count per key is the number of bulk records with that key."""
    want = Counter(f"k{i % 50}" for i in range(n))
    got = latest_counts(bootstrap, f"BULK_COUNTS_{suffix}", want)
    assert got == dict(want), f"counts differ: got {sorted(got.items())[:5]}..."
    print(f"ok: {len(want)} keys counted")


def latest_counts(bootstrap, topic, want):
    """The latest count per key of `topic`, read again while it is short of `want` (for up to
    180 s: the aggregation may still be catching up after the takeover). Counts only grow, so
    one past `want` is a failure at once."""
    deadline = time.monotonic() + 180
    while True:
        msgs, _ = consume(bootstrap, topic, len(want))
        got = {}
        for m in msgs:
            got[m.key().decode()] = json.loads(m.value())["C"]
        if got == dict(want) or time.monotonic() > deadline or any(
                got.get(k, 0) > c for k, c in want.items()):
            return got
        time.sleep(2)


def groupcheck(bootstrap, suffix, n):
    """BULK_GROUPS_SUFFIX's latest count per group (a value column, so counted through a
    repartition topic) is the number of bulk records in that group with n % 10 = 0."""
    want = Counter(f"g{i % 13}" for i in range(n) if i % 10 == 0)
    got = latest_counts(bootstrap, f"BULK_GROUPS_{suffix}", want)
    assert got == dict(want), f"counts differ: got {sorted(got.items())}, want {sorted(want.items())}"
    print(f"ok: {len(want)} groups counted")


AVRO_BIDS = 200
BID_SCHEMA = json.dumps({"type": "record", "name": "Bid", "namespace": "proof", "fields": [
    {"name": "auction", "type": "long"}, {"name": "price", "type": "long"},
    {"name": "bidder", "type": ["null", "string"], "default": None}]})


def avro(bootstrap, suffix, url):
    """Bids in AVRO, framed by Confluent's serializer with the id Brooklet's registry gave."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(f"avro_in_{suffix}", 1, 1)]).values():
        f.result(30)
    serialize = AvroSerializer(SchemaRegistryClient({"url": url}), BID_SCHEMA)
    ctx = SerializationContext(f"avro_in_{suffix}", MessageField.VALUE)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(AVRO_BIDS):
        bid = {"auction": i % 7, "price": 100 + i, "bidder": None if i % 10 == 0 else f"b{i}"}
        p.produce(f"avro_in_{suffix}", key=f"k{i}", value=serialize(bid, ctx))
    assert p.flush(30) == 0


def avrocheck(bootstrap, suffix, url):
    """Every output record is Confluent-framed AVRO whose schema Brooklet registered, and
    fastavro reads the values the query computed from them."""
    import io
    import fastavro
    from confluent_kafka.schema_registry import SchemaRegistryClient
    sr = SchemaRegistryClient({"url": url})
    msgs, _ = consume(bootstrap, f"AVRO_OUT_{suffix}", AVRO_BIDS)
    schemas, got = {}, {}
    for m in msgs:
        v = m.value()
        assert v[0] == 0, v
        sid = int.from_bytes(v[1:5], "big")
        if sid not in schemas:
            schemas[sid] = fastavro.parse_schema(json.loads(sr.get_schema(sid).schema_str))
        row = fastavro.schemaless_reader(io.BytesIO(v[5:]), schemas[sid])
        got[m.key().decode()] = row
    latest = sr.get_latest_version(f"AVRO_OUT_{suffix}-value")
    assert list(schemas) == [latest.schema_id], (list(schemas), latest.schema_id)
    assert json.loads(latest.schema.schema_str)["name"] == "KsqlDataSourceSchema"
    assert len(got) == AVRO_BIDS, len(got)
    for i in range(AVRO_BIDS):
        row = got[f"k{i}"]
        want = {"AUCTION": i % 7, "DOUBLE_PRICE": 2 * (100 + i),
                "BIDDER": None if i % 10 == 0 else f"b{i}"}
        assert row == want, (i, row, want)
    print(f"ok: {len(got)} AVRO records decoded by fastavro")


def message_class(package, name, fields, imported=None):
    """A protobuf message class built at run time (no protoc): `fields` are (name, type) with
    type "int64", "string" or ".pkg.Message" (a message of `imported`: (file name, package,
    message name, fields), a second file the first imports)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    fdp = descriptor_pb2.FieldDescriptorProto
    types = {"int64": fdp.TYPE_INT64, "string": fdp.TYPE_STRING}
    pool = descriptor_pool.DescriptorPool()

    def file(file_name, pkg, msg, fs, deps=()):
        f = descriptor_pb2.FileDescriptorProto(name=file_name, package=pkg, syntax="proto3",
                                              dependency=list(deps))
        m = f.message_type.add(name=msg)
        for i, (field, ty) in enumerate(fs, 1):
            if ty.startswith("."):
                m.field.add(name=field, number=i, type=fdp.TYPE_MESSAGE, type_name=ty,
                            label=fdp.LABEL_OPTIONAL)
            else:
                m.field.add(name=field, number=i, type=types[ty], label=fdp.LABEL_OPTIONAL)
        pool.Add(f)

    deps = []
    if imported:
        file(*imported)
        deps = [imported[0]]
    file(f"{package}.proto", package, name, fields, deps)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))


def protobuf(bootstrap, suffix, url):
    """Bids in PROTOBUF, framed by Confluent's serializer (which registers the schema as a
    base64 descriptor) with the id Brooklet's registry gave. Every tenth has no bidder."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(f"proto_in_{suffix}", 1, 1)]).values():
        f.result(30)
    # `source` is a message of another file: the serializer registers that file as a schema
    # of its own and the bid's schema with a reference to it.
    bid = message_class("proof", "Bid", [("auction", "int64"), ("price", "int64"),
                                         ("bidder", "string"), ("source", ".common.Origin")],
                        ("common/origin.proto", "common", "Origin", [("app", "string")]))
    serialize = ProtobufSerializer(bid, SchemaRegistryClient({"url": url}),
                                   {"use.deprecated.format": False})
    ctx = SerializationContext(f"proto_in_{suffix}", MessageField.VALUE)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(AVRO_BIDS):
        b = bid(auction=i % 7, price=100 + i)
        b.source.app = f"app{i % 3}"
        if i % 10:
            b.bidder = f"b{i}"
        p.produce(f"proto_in_{suffix}", key=f"k{i}", value=serialize(b, ctx))
    assert p.flush(30) == 0


def protocheck(bootstrap, suffix, url):
    """Every output record is Confluent-framed PROTOBUF under the schema Brooklet registered
    (ksqlDB's ConnectDefault1), and Confluent's ProtobufDeserializer reads the values the query
    computed (an unset bidder reads as proto3's default, as ksqlDB's does)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    sr = SchemaRegistryClient({"url": url})
    latest = sr.get_latest_version(f"PROTO_OUT_{suffix}-value")
    text = latest.schema.schema_str
    assert latest.schema.schema_type == "PROTOBUF", latest.schema.schema_type
    assert "message ConnectDefault1" in text and "string APP = 4;" in text, text
    assert sr.get_latest_version("common/origin.proto").version == 1
    out = message_class("check", "ConnectDefault1", [("AUCTION", "int64"),
                                                     ("DOUBLE_PRICE", "int64"),
                                                     ("BIDDER", "string"), ("APP", "string")])
    # With the registry, the deserializer also fetches the writer's schema as a descriptor
    # (`?format=serialized`) and checks the message indexes against it.
    deserialize = ProtobufDeserializer(out, {"use.deprecated.format": False}, sr)
    ctx = SerializationContext(f"PROTO_OUT_{suffix}", MessageField.VALUE)
    msgs, _ = consume(bootstrap, f"PROTO_OUT_{suffix}", AVRO_BIDS)
    got = {}
    for m in msgs:
        v = m.value()
        assert v[0] == 0 and int.from_bytes(v[1:5], "big") == latest.schema_id, v[:6]
        row = deserialize(v, ctx)
        got[m.key().decode()] = (row.AUCTION, row.DOUBLE_PRICE, row.BIDDER, row.APP)
    assert len(got) == AVRO_BIDS, len(got)
    for i in range(AVRO_BIDS):
        want = (i % 7, 2 * (100 + i), "" if i % 10 == 0 else f"b{i}", f"app{i % 3}")
        assert got[f"k{i}"] == want, (i, got[f"k{i}"], want)
    print(f"ok: {len(got)} PROTOBUF records decoded by the protobuf package")


def count(bootstrap, topic, how):
    """Prints how many records the broker says a topic holds (with "min": the fewest any of
    its partitions holds; 0 for a topic that does not exist)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "proof-count"})
    md = c.list_topics(topic, timeout=10).topics[topic]
    ends = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in md.partitions] if md.error is None else [0]
    print(min(ends) if how == "min" else sum(ends))
    c.close()


def configs(bootstrap, topic, _):
    """Prints a topic's partitions, cleanup.policy and retention.ms as JSON."""
    from confluent_kafka.admin import ConfigResource
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(topic, timeout=10).topics[topic]
    found = admin.describe_configs([ConfigResource("topic", topic)])
    entries = list(found.values())[0].result(10)
    print(json.dumps({"partitions": len(md.partitions),
                      **{k: entries[k].value for k in ("cleanup.policy", "retention.ms")
                         if k in entries}}))


if __name__ == "__main__":
    cmd, bootstrap, suffix, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    n = n if n in ("min",) or n.startswith("http") else int(n)
    {"produce": produce, "check": check, "bulk": bulk, "bulkcheck": bulkcheck,
     "count": count, "configs": configs, "countcheck": countcheck,
     "groupcheck": groupcheck, "avro": avro, "avrocheck": avrocheck,
     "protobuf": protobuf, "protocheck": protocheck}[cmd](
        bootstrap, suffix, n)
