#!/usr/bin/env python3
"""Push latency: how long after an INSERT its row reaches a push query's client.

Starts `brooklet server`, creates a stream, opens a push query over /query-stream (HTTP/1.1,
delimited rows), then --inserts times: sends one row through /ksql INSERT VALUES (or
/inserts-stream with --inserts-stream) and waits for the push query to deliver it. The
latency of a row is from just before its request is sent to the moment its line is read by the
client (both on this process's monotonic clock). --persistent adds N persistent queries over
the same stream, so the insert competes with them. Prints p50 / p90 / p99 / max in ms.

Usage: bench/push_latency.py [--inserts 300] [--persistent 0] [--inserts-stream] [--bin PATH]
"""
import argparse
import json
import os
import signal
import tempfile
import threading
import time
import urllib.request

from soak import post, start_server


class Push(threading.Thread):
    """A push query; records when each row (by its ID) arrives."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.arrived, self.ready = port, {}, threading.Event()
        self.cond = threading.Condition()

    def run(self):
        body = json.dumps({"sql": "SELECT id FROM ev EMIT CHANGES;",
                           "properties": {"auto.offset.reset": "latest"}})
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/query-stream",
                                     data=body.encode(),
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/vnd.ksqlapi.delimited.v1"})
        with urllib.request.urlopen(req, timeout=60) as r:
            r.readline()  # the header
            self.ready.set()
            while True:
                line = r.readline()
                if not line:
                    return
                at = time.perf_counter()
                row = json.loads(line)
                if isinstance(row, list):
                    with self.cond:
                        self.arrived[row[0]] = at
                        self.cond.notify_all()

    def wait_for(self, ident, timeout=10.0):
        with self.cond:
            self.cond.wait_for(lambda: ident in self.arrived, timeout)
            return self.arrived.get(ident)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inserts", type=int, default=300)
    ap.add_argument("--persistent", type=int, default=0)
    ap.add_argument("--inserts-stream", action="store_true")
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "/tmp/brooklet-target"), "release", "brooklet"))
    args = ap.parse_args()
    server, port = start_server(args.bin, tempfile.mkdtemp(prefix="brooklet-latency-"))
    try:
        ddl = ("CREATE STREAM ev (id BIGINT KEY, v BIGINT) "
               "WITH (KAFKA_TOPIC='ev', PARTITIONS=1, VALUE_FORMAT='JSON');")
        ddl += "".join(f"CREATE STREAM copy{i} AS SELECT * FROM ev WHERE v >= {i};"
                       for i in range(args.persistent))
        post(port, "/ksql", json.dumps({"ksql": ddl, "streamsProperties": {}}))
        push = Push(port)
        push.start()
        push.ready.wait(30)
        time.sleep(0.5)
        latencies = []
        for i in range(args.inserts):
            start = time.perf_counter()
            if args.inserts_stream:
                post(port, "/inserts-stream",
                     json.dumps({"target": "EV"}) + "\n" + json.dumps({"ID": i, "V": i}) + "\n")
            else:
                post(port, "/ksql", json.dumps(
                    {"ksql": f"INSERT INTO ev (id, v) VALUES ({i}, {i});", "streamsProperties": {}}))
            at = push.wait_for(i)
            if at is None:
                raise SystemExit(f"row {i} never arrived")
            latencies.append((at - start) * 1000)
            time.sleep(0.01)
        latencies.sort()

        def pct(p):
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

        how = "/inserts-stream" if args.inserts_stream else "/ksql INSERT VALUES"
        print(f"push latency over {len(latencies)} inserts ({how}, {args.persistent} persistent "
              f"queries): p50 {pct(0.5):.2f} ms, p90 {pct(0.9):.2f}, p99 {pct(0.99):.2f}, "
              f"max {latencies[-1]:.2f}")
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    main()
