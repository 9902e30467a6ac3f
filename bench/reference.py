#!/usr/bin/env python3
"""Reference results of the Nexmark workloads (../shared/bench/WORKLOADS.md), computed directly
from bid.jsonl (and person.jsonl, auction.jsonl for the joins q3, q8): record counts and the
checksum sums each workload's sink topic must have.
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


def compute_functions(path):
    """qf: one record per bid; LEN(MASK(url)) is the URL's length."""
    n = sum_auction = sum_len = 0
    with open(path, "rb") as f:
        for line in f:
            b = json.loads(line)
            n += 1
            sum_auction += b["auction"]
            sum_len += len(b["url"])
    return {"qf": {"records": n, "sums": {"AUCTION": str(sum_auction), "URL_LEN": str(sum_len)}}}


def read_lines(path, fields):
    rows = []
    with open(path, "rb") as f:
        for line in f:
            r = json.loads(line)
            rows.append(tuple(r[k] for k in fields))
    return rows


def compute_joins(data):
    """q3 and q8 over person.jsonl and auction.jsonl, in the order Brooklet reads them: the
    two inputs merged by (timestamp, input), auctions (the left input) first on equal times."""
    persons = read_lines(os.path.join(data, "person.jsonl"), ("id", "state", "date_time"))
    auctions = read_lines(
        os.path.join(data, "auction.jsonl"), ("id", "seller", "category", "date_time")
    )
    # q3: stream (auctions) - table (persons by id) join, as of each auction.
    table = {}
    q3_n = q3_sum = 0
    i = j = 0
    while i < len(auctions) or j < len(persons):
        take_auction = j == len(persons) or (
            i < len(auctions) and (auctions[i][3], 0) < (persons[j][2], 1)
        )
        if take_auction:
            aid, seller, category, _ = auctions[i]
            i += 1
            state = table.get(seller)
            if category == 10 and state in ("OR", "ID", "CA"):
                q3_n += 1
                q3_sum += aid
        else:
            pid, state, _ = persons[j]
            j += 1
            table[pid] = state
    # q8: every (person, auction) pair with auction.seller = person.id, 10 s apart at most.
    person_time = {pid: t for pid, _, t in persons}
    q8_n = q8_sum = 0
    for aid, seller, _, t in auctions:
        pt = person_time.get(seller)
        if pt is not None and abs(pt - t) <= 10_000:
            q8_n += 1
            q8_sum += aid
    return {
        "join_events": len(persons) + len(auctions),
        "q3": {"records": q3_n, "sums": {"AUCTION_ID": str(q3_sum)}},
        "q8": {"records": q8_n, "sums": {"AUCTION_ID": str(q8_sum)}},
    }


def main():
    data = sys.argv[1]
    out = os.path.join(data, "reference.json")
    bids = os.path.join(data, "bid.jsonl")
    ref = None
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(bids):
        ref = json.load(open(out))
    if ref is None:
        ref = compute(bids)
    if "q8" not in ref:
        ref.update(compute_joins(data))
    if "qf" not in ref:
        ref.update(compute_functions(bids))
    with open(out + ".tmp", "w") as f:
        json.dump(ref, f, indent=1)
    os.replace(out + ".tmp", out)
    print(out)


if __name__ == "__main__":
    main()
