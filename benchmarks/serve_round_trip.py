"""Benchmark: one request's round trip to `mlsync sandbox serve`, with two clients.

Input: none. Output: the median of `--requests` sequential `GET /_ml/anomaly_detectors/_all`
round trips on one kept-alive connection, with the standard library's `http.client` and with
httpx (mlsync's client library), in milliseconds. A server that sends its answer in two writes
on a socket without TCP_NODELAY stalls each of them by the client's delayed ACK (about 40 ms).

    python benchmarks/serve_round_trip.py [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import time
from urllib.parse import urlsplit

import httpx
from bench_common import served_sandbox

PATH = "/_ml/anomaly_detectors/_all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with served_sandbox() as server:
        parts = urlsplit(server.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        stdlib = []
        for _ in range(args.requests):
            started = time.perf_counter()
            conn.request("GET", PATH)
            conn.getresponse().read()
            stdlib.append(time.perf_counter() - started)
        conn.close()
        with httpx.Client(base_url=server.url) as client:
            via_httpx = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get(PATH).raise_for_status()
                via_httpx.append(time.perf_counter() - started)
    for name, times in (("http.client", stdlib), ("httpx", via_httpx)):
        print(f"{name:>12}: median {statistics.median(times) * 1000:.2f} ms over {len(times)}")


if __name__ == "__main__":
    main()
