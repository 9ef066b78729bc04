#!/usr/bin/env python3
"""Samples a running Inlet's /metrics once a second and writes a per-second timeline (CSV).

    timeline.py URL OUT.csv SECONDS

Columns: second (since start), committed (messages stored in that second:
inlet_messages_accepted_total), duplicates (inlet_messages_duplicate_total), requests and
non2xx (ingest responses: inlet_http_responses_total outside the health and metrics routes),
p99_ms (the 99th percentile of those requests' latency in that second, from the
inlet_http_request_duration_seconds buckets, interpolated within a bucket as Prometheus's
histogram_quantile does). For `make loadtest` and `make bench`, whose charts draw it.
Python 3 standard library only; stops by itself after SECONDS.
"""
import csv
import re
import sys
import time
import urllib.request

NOT_INGEST = {"/metrics", "/readyz", "/healthz"}
SAMPLE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? ([0-9.eE+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def scrape(url):
    """{(name, frozenset(labels)): value} of one exposition."""
    with urllib.request.urlopen(url + "/metrics", timeout=2) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(LABEL.findall(match.group(2) or ""))
            samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def summed(samples, name, keep=lambda labels: True):
    return sum(v for (n, labels), v in samples.items() if n == name and keep(dict(labels)))


def ingest(labels):
    return labels.get("route") not in NOT_INGEST


def buckets(samples):
    """{upper bound: cumulative count} over the ingest routes."""
    out = {}
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if name == "inlet_http_request_duration_seconds_bucket" and ingest(labels):
            bound = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            out[bound] = out.get(bound, 0) + value
    return out


def quantile(q, now, before):
    """histogram_quantile over the difference of two cumulative bucket sets, in ms."""
    delta = sorted((bound, now.get(bound, 0) - before.get(bound, 0)) for bound in now)
    if not delta or delta[-1][1] <= 0:
        return ""
    rank = q * delta[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in delta:
        if count >= rank:
            if bound == float("inf"):
                return round(lower_bound * 1000, 1)
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1
            return round((lower_bound + (bound - lower_bound) * share) * 1000, 1)
        lower_bound, lower_count = bound, count
    return ""


def main():
    url, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    start = time.monotonic()
    previous = scrape(url)
    with open(out, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["second", "committed", "duplicates", "requests", "non2xx", "p99_ms"])
        tick = 1
        while tick <= seconds:
            time.sleep(max(0, start + tick - time.monotonic()))
            try:
                now = scrape(url)
            except OSError:
                tick += 1
                continue
            responses = lambda s, keep: summed(s, "inlet_http_responses_total", keep)
            failed = lambda labels: ingest(labels) and not labels.get("status", "").startswith("2")
            writer.writerow([
                tick,
                int(summed(now, "inlet_messages_accepted_total") - summed(previous, "inlet_messages_accepted_total")),
                int(summed(now, "inlet_messages_duplicate_total") - summed(previous, "inlet_messages_duplicate_total")),
                int(responses(now, ingest) - responses(previous, ingest)),
                int(responses(now, failed) - responses(previous, failed)),
                quantile(0.99, buckets(now), buckets(previous)),
            ])
            file.flush()
            previous = now
            tick += 1


if __name__ == "__main__":
    main()
