#!/usr/bin/env python3
"""Soak: a bounded load on a Brooklet server over loopback, which stops by itself.

For --seconds (default 600) a producer sends --rate rows/s (default 20,000) through
/inserts-stream in batches; 5 persistent queries run (a passthrough, a filter, a tumbling
count, a latest-by-key table, hopping EMIT FINAL) and 50 push queries each follow one group of
rows. Every 5 s it samples the server's RSS. At the end it reports RSS over time, the latency
of push rows (receipt time minus the time the producer stamped in the row: p50/p99/max), and
records in = records out (rows acked = rows in the input topic = rows in the passthrough sink
= rows the push queries received).

Usage: bench/soak.py [--seconds 600] [--rate 20000] [--push 50] [--bin PATH]
Exit status 1 if a count differs or the server failed.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

STATEMENTS = """
SET 'auto.offset.reset' = 'earliest';
CREATE STREAM ev (id BIGINT KEY, grp INT, v BIGINT, ts BIGINT)
  WITH (KAFKA_TOPIC = 'ev', PARTITIONS = 1, VALUE_FORMAT = 'JSON');
CREATE STREAM ev_copy AS SELECT * FROM ev;
CREATE STREAM ev_big AS SELECT id, grp, v FROM ev WHERE v % 10 = 0;
CREATE TABLE ev_counts AS SELECT grp, COUNT(*) AS n FROM ev
  WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY grp EMIT CHANGES;
CREATE TABLE ev_latest AS SELECT id, LATEST_BY_OFFSET(v) AS v FROM ev GROUP BY id;
CREATE TABLE ev_final AS SELECT grp, COUNT(*) AS n FROM ev
  WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS) GROUP BY grp EMIT FINAL;
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body, timeout=60):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def start_server(binary, work):
    """Starts `brooklet server` on a free port with its data in `work`; (process, port) once
    it answers."""
    port = free_port()
    server = subprocess.Popen([binary, "--data-dir", f"{work}/data", "server", "--listen",
                               f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                              stderr=open(f"{work}/server.log", "w"))
    wait_ready(port, 10)
    return server, port


def wait_ready(port, seconds):
    """Waits until a server on `port` answers /info; false if it did not within `seconds`."""
    for _ in range(int(seconds / 0.05)):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=1).read()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Push(threading.Thread):
    """A push query following one group; records receipt latencies."""

    def __init__(self, port, group, stop):
        super().__init__(daemon=True)
        self.port, self.group, self.stop = port, group, stop
        self.rows, self.latencies, self.error = 0, [], None

    def run(self):
        body = json.dumps({"sql": f"SELECT id, ts FROM ev WHERE grp = {self.group} EMIT CHANGES;",
                           "properties": {"auto.offset.reset": "latest"}})
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/query-stream",
                                     data=body.encode(),
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/vnd.ksqlapi.delimited.v1"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.readline()  # the header
                while not self.stop.is_set():
                    line = r.readline()
                    if not line:
                        break
                    row = json.loads(line)
                    if isinstance(row, list):
                        self.rows += 1
                        self.latencies.append(time.time() * 1000 - row[1])
        except Exception as e:  # the server went away, or the stop closed it
            if not self.stop.is_set():
                self.error = repr(e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--push", type=int, default=50)
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "/tmp/brooklet-target"), "release", "brooklet"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="brooklet-soak-")
    server, port = start_server(args.bin, work)
    post(port, "/ksql", json.dumps({"ksql": STATEMENTS, "streamsProperties": {}}))
    stop = threading.Event()
    pushes = [Push(port, g, stop) for g in range(args.push)]
    for p in pushes:
        p.start()
    time.sleep(1.0)

    acked, sent, samples = 0, 0, []
    start = time.time()
    next_sample = start
    batch = max(1, args.rate // 10)
    while time.time() - start < args.seconds:
        now = time.time()
        if now >= next_sample:
            samples.append((now - start, rss_mb(server.pid)))
            next_sample += 5
        lines = [json.dumps({"target": "EV"})]
        ts = int(now * 1000)
        for i in range(sent, sent + batch):
            lines.append(f'{{"ID":{i % 100000},"GRP":{i % args.push},"V":{i},"TS":{ts}}}')
        acks = post(port, "/inserts-stream", "\n".join(lines) + "\n")
        acked += acks.count('"ok"')
        sent += batch
        # Keep to the rate: each batch is a tenth of a second's rows.
        behind = start + sent / args.rate - time.time()
        if behind > 0:
            time.sleep(behind)
    elapsed = time.time() - start
    samples.append((elapsed, rss_mb(server.pid)))

    # Let the queries catch up, then stop.
    deadline = time.time() + 120
    while time.time() < deadline and sum(p.rows for p in pushes) < acked:
        time.sleep(0.5)
    time.sleep(3)
    stop.set()
    server.send_signal(signal.SIGKILL)
    server.wait()
    counts = {}
    for topic in ["ev", "EV_COPY"]:
        out = subprocess.run([args.bin, "--data-dir", f"{work}/data", "topic-stats", topic],
                             capture_output=True, text=True)
        counts[topic] = json.loads(out.stdout)["records"] if out.returncode == 0 else None
    latencies = sorted(l for p in pushes for l in p.latencies)
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0
    push_rows = sum(p.rows for p in pushes)
    errors = [p.error for p in pushes if p.error]

    print(f"soak: {elapsed:.0f} s, {sent} rows sent ({sent / elapsed:,.0f}/s), {acked} acked")
    print("RSS over time (s: MB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in samples))
    first = [m for t, m in samples if t >= elapsed / 4]
    print(f"RSS after the first quarter: min {min(first):.0f} MB, max {max(first):.0f} MB")
    print(f"push rows: {push_rows} over {len(pushes)} queries; latency ms p50 {pct(0.5):.0f} "
          f"p99 {pct(0.99):.0f} max {pct(1.0) if latencies else 0:.0f}")
    print(f"records in {acked} = input topic {counts['ev']} = passthrough sink "
          f"{counts['EV_COPY']} = push rows {push_rows}")
    ok = acked == counts["ev"] == counts["EV_COPY"] == push_rows and not errors
    if errors:
        print(f"push query errors: {errors[:3]}")
    print("ok" if ok else "MISMATCH")
    subprocess.run(["rm", "-rf", work])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
