#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark: one Python process pipelining small appends to walld.

    /usr/bin/python3 python/bench.py --walld build/walld        # a private walld
    /usr/bin/python3 python/bench.py --socket /path/walld.sock  # a running one

Appends ``--count`` records of ``--size`` bytes (128 by default) on one
connection with ``Client.append_many`` (``AsyncClient`` with ``--asyncio``),
``--batch`` records per call, and reports appends per second. Without
``--nowait`` every LSN returned is durable (walld's group commit makes one
fdatasync cover many records).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import walld  # noqa: E402


def start_walld(binary: str, tmp: str) -> subprocess.Popen[bytes]:
    """Starts a private walld in tmp; returns it once it answers."""
    sock = os.path.join(tmp, "walld.sock")
    log = open(os.path.join(tmp, "walld.log"), "wb")
    # walld refuses to run as root without --allow-root.
    root = ["--allow-root"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([binary, *root, "--socket", sock, "--data-dir",
                             os.path.join(tmp, "data")], stdout=log,
                            stderr=subprocess.STDOUT)
    end = time.monotonic() + 10
    while True:
        try:
            with walld.Client(sock, connect_timeout=1, timeout=1) as c:
                c.ping()
            return proc
        except walld.WalldError:
            if proc.poll() is not None or time.monotonic() > end:
                sys.exit(f"walld did not start; see {tmp}/walld.log")
            time.sleep(0.05)


def run_blocking(sock: str, payloads: list[bytes], batch: int,
                 nowait: bool) -> tuple[float, int]:
    """Times the appends with the blocking client; (seconds, last LSN)."""
    with walld.Client(sock) as c:
        c.append_many(payloads[:1000], nowait=nowait)     # warm up
        t0 = time.perf_counter()
        last = 0
        for i in range(0, len(payloads), batch):
            last = c.append_many(payloads[i:i + batch], nowait=nowait)[-1]
        if nowait:
            c.sync()
        return time.perf_counter() - t0, last


def run_async(sock: str, payloads: list[bytes], batch: int,
              nowait: bool) -> tuple[float, int]:
    """Times the appends with the asyncio client; (seconds, last LSN)."""
    async def main() -> tuple[float, int]:
        async with walld.AsyncClient(sock) as c:
            await c.append_many(payloads[:1000], nowait=nowait)
            t0 = time.perf_counter()
            last = 0
            for i in range(0, len(payloads), batch):
                last = (await c.append_many(payloads[i:i + batch],
                                            nowait=nowait))[-1]
            if nowait:
                await c.sync()
            return time.perf_counter() - t0, last

    return asyncio.run(main())


def main() -> None:
    """Parses the arguments, runs the benchmark, prints the rate."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--socket", help="a running walld's socket "
                       "(default: $WALLD_SOCKET)")
    where.add_argument("--walld", help="start this walld binary on a "
                       "private socket and data directory")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=100_000,
                    help="records per append_many call")
    ap.add_argument("--nowait", action="store_true",
                    help="NOWAIT appends and one SYNC at the end")
    ap.add_argument("--asyncio", action="store_true",
                    help="use AsyncClient")
    ap.add_argument("--profile", action="store_true",
                    help="print a cProfile of the client side")
    args = ap.parse_args()

    payloads = [os.urandom(args.size)] * args.count
    tmp = None
    proc = None
    sock = args.socket or walld.default_socket()
    if args.walld:
        tmp = tempfile.mkdtemp(prefix="walld-bench.")
        proc = start_walld(args.walld, tmp)
        sock = os.path.join(tmp, "walld.sock")
    run = run_async if args.asyncio else run_blocking
    try:
        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            secs, last = prof.runcall(run, sock, payloads, args.batch,
                                      args.nowait)
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)
        else:
            secs, last = run(sock, payloads, args.batch, args.nowait)
    finally:
        if proc is not None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    kind = "nowait+sync" if args.nowait else "durable"
    client = "AsyncClient" if args.asyncio else "Client"
    print(f"{args.count} appends of {args.size} bytes ({kind}, {client}, "
          f"{args.batch} per call): {secs:.3f} s, "
          f"{args.count / secs:,.0f} appends/s (last LSN {last})")


if __name__ == "__main__":
    main()
