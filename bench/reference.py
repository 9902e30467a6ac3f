#!/usr/bin/env python3
"""Reference results of the Nexmark workloads (../shared/bench/WORKLOADS.md), computed directly
from bid.jsonl: record counts and the checksum sums each workload's sink topic must have.
Usage: reference.py DATA_DIR  (writes DATA_DIR/reference.json once, then reuses it)."""
import json
import os
import sys

WINDOW, HOP = 10_000, 2_000


def compute(path):
    n = sum_price = sum_auction = 0
    q2_n = q2_price = 0
    qw_cnt, qw_max = {}, {}
    q5 = {}
    q7 = {}
    with open(path, "rb") as f:
        for line in f:
            b = json.loads(line)
            a, p, t = b["auction"], b["price"], b["date_time"]
            n += 1
            sum_price += p
            sum_auction += a
            if a % 123 == 0:
                q2_n += 1
                q2_price += p
            w = t - t % WINDOW
            k = (a, w)
            qw_cnt[k] = qw_cnt.get(k, 0) + 1
            if qw_max.get(k, -1) < p:
                qw_max[k] = p
            start = t - t % HOP
            for s in range(start, t - WINDOW, -HOP):
                if s >= 0:
                    q5[(a, s)] = q5.get((a, s), 0) + 1
            if q7.get(w, -1) < p:
                q7[w] = p
    # q1: price * 0.908 is exact with three decimals, so its sum is 0.908 * SUM(price).
    q1 = sum_price * 908
    return {
        "bids": n,
        "q0": {"records": n, "sums": {"PRICE": str(sum_price), "AUCTION": str(sum_auction)}},
        "q1": {"records": n, "sums": {"PRICE": f"{q1 // 1000}.{q1 % 1000:03d}"}},
        "q2": {"records": q2_n, "sums": {"PRICE": str(q2_price)}},
        "qw": {"records": len(qw_cnt), "sums": {"CNT": str(n), "MAX_PRICE": str(sum(qw_max.values()))}},
        "q5": {"records": len(q5), "sums": {"NUM": str(sum(q5.values()))}},
        "q7": {"records": len(q7), "sums": {"MAX_PRICE": str(sum(q7.values()))}},
    }


def main():
    data = sys.argv[1]
    out = os.path.join(data, "reference.json")
    bids = os.path.join(data, "bid.jsonl")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(bids):
        ref = compute(bids)
        with open(out + ".tmp", "w") as f:
            json.dump(ref, f, indent=1)
        os.replace(out + ".tmp", out)
    print(out)


if __name__ == "__main__":
    main()
