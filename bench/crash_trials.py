#!/usr/bin/env python3
"""Crash trials: Brooklet killed with SIGKILL at random moments, restarted, and its sinks
compared with an uncrashed run of the same input.

Each trial picks a workload of bench/crash/ (seeded), starts it, kills the process 1-5 times
at random moments (while a connector loads a batch, a query checkpoints, a segment rolls:
checkpoints every 200 ms and 256 KiB segments make those frequent), restarts it each time,
lets the last run finish, then compares every sink topic with the uncrashed run record by
record (same records in the same order per partition: no loss, no duplicate, no reordering
per key) and the answers of pull queries. Workloads:

  stateless  CSAS filter / projection / functions, PARTITION BY into 4 partitions
  windows    tumbling EMIT CHANGES, hopping EMIT FINAL (Nexmark q5), session windows
  tables     table aggregation over a table whose rows change and are deleted
  joins      stream-table (q3), stream-stream (q8), left join with grace, join + GROUP BY
  inserts    a server fed through /inserts-stream and INSERT VALUES, killed under the
             producer; the uncrashed run reads the input the trial ended with

Usage: bench/crash_trials.py [--trials 100] [--seed S] [--bids 100000] [--workloads a,b]
                             [--round-robin]
       bench/crash_trials.py --replay SEED --workloads W   (one trial again)
It prints one line per trial and, at the end, the trials run, the failures and their seeds.
Exit status 1 if any trial failed. Needs the brooklet binary (--bin, default: release build).
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from soak import free_port, wait_ready

HERE = os.path.dirname(os.path.abspath(__file__))
CRASH = os.path.join(HERE, "crash")
ROOT = os.path.dirname(HERE)
SEGMENT_BYTES = 256 * 1024

WORKLOADS = {
    "stateless": dict(files=["sources.sql", "stateless.sql"], sinks=["CHEAP", "BY_BIDDER"],
                      pulls=[]),
    "windows": dict(files=["sources.sql", "windows.sql"], sinks=["TUMBLING", "Q5", "SESSIONS"],
                    pulls=["SELECT * FROM TUMBLING WHERE AUCTION = 1000;"]),
    "tables": dict(files=["sources.sql", "tables.sql"],
                   sinks=["LATEST", "OPEN_AUCTIONS", "BY_BUCKET"],
                   pulls=["SELECT * FROM BY_BUCKET;", "SELECT * FROM LATEST WHERE AUCTION = 1000;"]),
    "joins": dict(setup=["../../queries/nexmark/joins-load.sql"], files=["joins.sql"],
                  sinks=["Q3", "Q8", "SELLERS", "PER_SELLER"], pulls=["SELECT * FROM PER_SELLER;"]),
    "inserts": dict(files=["inserts.sql"],
                    sinks=["EV_ODD", "EV_WINDOWS", "EV_FINAL", "EV_LATEST", "EV_BY_GRP"],
                    pulls=["SELECT * FROM EV_BY_GRP;", "SELECT * FROM EV_LATEST WHERE ID = 7;"],
                    inputs=["ev"]),
}


class Env:
    def __init__(self, args, work):
        self.bin = args.bin
        self.data = args.data
        self.work = work
        self.keep = args.keep

    def base(self, data_dir):
        return [self.bin, "--data-dir", data_dir, "--define", f"data_dir={self.data}",
                "--property", f"brooklet.connect.file.dirs={self.data}",
                "--property", f"brooklet.log.segment.bytes={SEGMENT_BYTES}"]

    def script(self, name, files):
        """One file of the workload's statements (files relative to bench/crash/)."""
        path = os.path.join(self.work, os.path.basename(name))
        if not os.path.exists(path):
            with open(path, "w") as out:
                for f in files:
                    out.write(open(os.path.join(CRASH, f)).read() + "\n")
        return path

    def run(self, data_dir, script, check=True, timeout=600):
        p = subprocess.run(self.base(data_dir) + ["--output", "json", "run", script],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"run {script} failed: {p.stderr[-2000:]}")
        return p

    def dump(self, data_dir, topic):
        p = subprocess.run([self.bin, "--data-dir", data_dir, "topic-dump", topic],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return None
        return p.stdout

    def pulls(self, data_dir, statements):
        if not statements:
            return []
        path = os.path.join(self.work, f"pull-{os.getpid()}.sql")
        with open(path, "w") as f:
            f.write("\n".join(statements) + "\n")
        out = self.run(data_dir, path).stdout
        rows = [json.loads(l) for l in out.splitlines() if l.strip()]
        return sorted(json.dumps(r, sort_keys=True) for r in rows)


def snapshot(env, w, data_dir):
    return {"sinks": {t: env.dump(data_dir, t) for t in w["sinks"]},
            "pulls": env.pulls(data_dir, w["pulls"])}


def records(text):
    return [json.loads(l) for l in (text or "").splitlines()]


def diagnose(topic, want, got):
    """What differs between two dumps of a topic."""
    if got is None:
        return f"{topic}: missing"
    key = lambda r: (r["p"], r["k"], r["v"], r["ts"])
    w, g = [key(r) for r in records(want)], [key(r) for r in records(got)]
    if w == g:
        return None
    from collections import Counter
    cw, cg = Counter(w), Counter(g)
    lost, extra = sum((cw - cg).values()), sum((cg - cw).values())
    if lost or extra:
        return f"{topic}: {len(g)} records, want {len(w)} ({lost} lost, {extra} extra)"
    return f"{topic}: same records, different order"


def compare(want, got):
    problems = [d for t in want["sinks"] if (d := diagnose(t, want["sinks"][t], got["sinks"][t]))]
    if want["pulls"] != got["pulls"]:
        problems.append(f"pull queries differ: {got['pulls'][:3]} vs {want['pulls'][:3]}")
    return problems


def killed_runs(env, data_dir, script, rng, kills, duration):
    """Runs `script` `kills` times, each killed after a random time (if still running: a kill
    may come after the run ended), and until at least one kill landed."""
    done, attempts = 0, 0
    while attempts < kills or (done == 0 and attempts < kills + 5):
        p = subprocess.Popen(env.base(data_dir) + ["--output", "json", "run", script],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Up to just past the uncrashed run's length: kills also land at its very end (the
        # end-of-input flush); the extra attempts aim at its first half.
        late = duration * (1.1 if attempts < kills else 0.5)
        time.sleep(rng.uniform(0.05, late))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            done += 1
        p.wait()
        attempts += 1
    return done


def file_trial(env, name, w, rng, reference, duration):
    d = tempfile.mkdtemp(dir=env.work, prefix=f"{name}-")
    try:
        for s in w.get("setup", []):
            env.run(d, env.script(s, [s]))
        script = env.script(name + ".sql", w["files"])
        kills = killed_runs(env, d, script, rng, rng.randint(1, 5), duration)
        env.run(d, script)
        return kills, compare(reference, snapshot(env, w, d))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- the server workload -----------------------------------------------------------------


class Server:
    def __init__(self, env, data_dir):
        self.env, self.data_dir, self.port = env, data_dir, free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            self.env.base(self.data_dir) + ["server", "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_ready(self.port, 30):
            raise RuntimeError("the server did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def post(self, path, body, timeout=30):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        return urllib.request.urlopen(req, timeout=timeout).read().decode()


def produce(server, rng, chunk, rows):
    """Sends rows `chunk*rows ..` through /inserts-stream, plus one INSERT VALUES."""
    base = chunk * rows
    lines = [json.dumps({"target": "EV"})]
    for i in range(base, base + rows):
        # Event time moves 1 ms a row, some rows up to 300 ms late.
        ts = 1_700_000_000_000 + i - (rng.randrange(300) if i % 10 == 0 else 0)
        lines.append(json.dumps({"ID": i % 500, "GRP": i % 7, "V": i, "TS": ts}))
    acks = server.post("/inserts-stream", "\n".join(lines) + "\n")
    if acks.count('"status":"ok"') != rows:
        raise OSError(f"{acks.count('ok')} of {rows} rows acked")
    i = base + rows
    stmt = f"INSERT INTO ev (id, grp, v, ts) VALUES ({i % 500}, 9, {i}, {1_700_000_000_000 + i});"
    server.post("/ksql", json.dumps({"ksql": stmt, "streamsProperties": {}}))


def inserts_trial(env, name, w, rng, chunks=40, rows=2000):
    d = tempfile.mkdtemp(dir=env.work, prefix=f"{name}-")
    try:
        server = Server(env, d)
        server.start()
        statements = open(env.script(name + ".sql", w["files"])).read()
        server.post("/ksql", json.dumps({"ksql": statements, "streamsProperties": {}}))
        kill_at = sorted(rng.sample(range(chunks), rng.randint(1, 5)))
        kills, chunk = 0, 0
        while chunk < chunks:
            if kill_at and chunk == kill_at[0]:
                kill_at.pop(0)
                # Mid-request: the kill lands while the server writes and the queries run.
                timer = rng.uniform(0.0, 0.3)
                pid = server.proc.pid
                subprocess.Popen(["sh", "-c", f"sleep {timer}; kill -9 {pid}"],
                                 stderr=subprocess.DEVNULL)
            try:
                produce(server, rng, chunk, rows)
                chunk += 1
            except (OSError, http.client.HTTPException):
                pass  # the rows may or may not be in: the input is what the trial ends with
            if server.proc.poll() is not None:
                kills += 1
                server.start()
        server.kill()
        kills += 1
        noop = env.script("noop.sql", [])
        env.run(d, noop)  # the queries catch up; the end of the run closes open windows
        got = snapshot(env, w, d)
        # The uncrashed run: the same input, loaded whole, then the queries.
        ref = tempfile.mkdtemp(dir=env.work, prefix="ref-")
        try:
            for t in w["inputs"]:
                dump = env.dump(d, t)
                subprocess.run([env.bin, "--data-dir", ref, "topic-load", t], input=dump,
                               text=True, check=True, capture_output=True)
            env.run(ref, env.script(name + ".sql", w["files"]))
            want = snapshot(env, w, ref)
        finally:
            shutil.rmtree(ref, ignore_errors=True)
        problems = compare(want, got)
        if problems and env.keep:
            shutil.copytree(d, os.path.join(env.keep, os.path.basename(d)))
        return kills, problems
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- the trials --------------------------------------------------------------------------


def reference(env, name, w):
    """An uncrashed run of a file workload (twice: its results must not depend on timing)."""
    snaps = []
    for _ in range(2):
        d = tempfile.mkdtemp(dir=env.work, prefix=f"ref-{name}-")
        for s in w.get("setup", []):
            env.run(d, env.script(s, [s]))
        start = time.time()
        env.run(d, env.script(name + ".sql", w["files"]))
        duration = time.time() - start
        snaps.append(snapshot(env, w, d))
        shutil.rmtree(d, ignore_errors=True)
    problems = compare(snaps[0], snaps[1])
    if problems:
        raise RuntimeError(f"{name}: two uncrashed runs differ: {problems}")
    counts = {t: len(records(s)) for t, s in snaps[0]["sinks"].items()}
    print(f"reference {name}: {duration:.1f} s, sinks {counts}", flush=True)
    return snaps[0], duration


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--replay", type=int, default=None, help="run the trial of this seed")
    ap.add_argument("--bids", type=int, default=100_000)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--round-robin", action="store_true",
                    help="take the workloads in turn instead of at random")
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "/tmp/brooklet-target"), "release", "brooklet"))
    ap.add_argument("--keep", default=None,
                    help="copy the data directory of a failed inserts trial under this directory")
    ap.add_argument("--data", default=None, help="Nexmark input directory (generated if absent)")
    args = ap.parse_args()
    names = args.workloads.split(",")
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workloads: {unknown}")
    tmp = os.environ.get("TMPDIR", "/tmp")
    args.data = args.data or os.path.join(tmp, f"brooklet-nexmark-{args.bids}")
    if not os.path.exists(os.path.join(args.data, "manifest.json")):
        gen = os.path.join(ROOT, "..", "shared", "bench", "gen_nexmark.py")
        subprocess.run([sys.executable, gen, "--bids", str(args.bids), "--out", args.data],
                       check=True, stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="brooklet-crash-", dir=tmp)
    env = Env(args, work)
    refs = {}
    for n in names:
        if "inputs" not in WORKLOADS[n]:
            refs[n] = reference(env, n, WORKLOADS[n])
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    master = random.Random(seed)
    seeds = [args.replay] if args.replay is not None else \
        [master.randrange(2**32) for _ in range(args.trials)]
    print(f"{len(seeds)} trials, seed {seed}", flush=True)
    failures, kills = [], 0
    for i, s in enumerate(seeds):
        rng = random.Random(s)
        name = names[0] if args.replay is not None else \
            names[i % len(names)] if args.round_robin else rng.choice(names)
        w = WORKLOADS[name]
        start = time.time()
        if "inputs" in w:
            k, problems = inserts_trial(env, name, w, rng)
        else:
            k, problems = file_trial(env, name, w, rng, refs[name][0], refs[name][1])
        kills += k
        status = "ok" if not problems else "FAILED " + "; ".join(problems)
        print(f"trial {i + 1:3} {name:9} seed {s:10} kills {k} {time.time() - start:5.1f} s  "
              f"{status}", flush=True)
        if problems:
            failures.append((name, s, problems))
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(seeds)} trials, {kills} kills, {len(failures)} failed")
    for name, s, problems in failures:
        print(f"  replay: bench/crash_trials.py --replay {s} --workloads {name}   # {problems}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
