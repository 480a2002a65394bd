#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The Python side of tests/integ/clients_interop.sh, with the walld
package (PYTHONPATH=python). tests/helpers/walinterop.c (libwal) and
rust/examples/interop.rs do the same with their clients.

    interop.py append SOCKET COUNT    append COUNT records, print each one
    interop.py dump SOCKET [TENANT]   print every record of the log (of
                                      TENANT only, when given)

One line per record, in the same form on the three sides:
"LSN TYPE TENANT VSHARD HEX", HEX the payload in lower-case hex ("-" when
empty). Record i of a writer: type BASE + i % 3, tenant TENANT, vshard
i % 7; payload empty when i % 97 == 1, else "TAG i " followed by the 256
byte values from i on (i % 10 == 0) or by xorshift32 bytes, 70000 of them
when i % 499 == 7, else (i * 7919) % 300. This side's TAG is "py", BASE
100, TENANT 1001.
"""

from __future__ import annotations

import sys
from typing import TextIO

import walld

TAG = "py"
TYPE = 100
TENANT = 1001
SINGLE = 40     # records 0..39: one blocking append each, ack 'local'
NOWAIT = 80     # records 40..79: nowait, then one sync
BATCH = 500     # the rest: append_many of this many at walld's default


def payload(i: int) -> bytes:
    """Record i's payload."""
    if i % 97 == 1:
        return b""
    head = f"{TAG} {i} ".encode()
    if i % 10 == 0:
        return head + bytes((i + k) & 255 for k in range(256))
    n = 70000 if i % 499 == 7 else (i * 7919) % 300
    x = (i * 2654435761 + 1) & 0xFFFFFFFF
    out = bytearray(n)
    for k in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[k] = x >> 24
    return head + bytes(out)


def entry(i: int) -> walld.Entry:
    """Record i with its header."""
    return walld.Entry(payload(i), type=TYPE + i % 3, vshard=i % 7,
                       tenant=TENANT)


def line(lsn: int, type: int, tenant: int, vshard: int, p: bytes) -> str:
    """A record in the shared line form."""
    return f"{lsn} {type} {tenant} {vshard} {p.hex() if p else '-'}\n"


def append(sock: str, count: int, out: TextIO) -> None:
    """Appends count records three ways, printing each once durable."""
    entries = [entry(i) for i in range(count)]
    done: list[tuple[int, walld.Entry]] = []
    with walld.Client(sock, timeout=60, ack="local") as c:
        for e in entries[:SINGLE]:
            done.append((c.append(e.payload, type=e.type, vshard=e.vshard,
                                  tenant=e.tenant), e))
        promised = [(c.append(e.payload, type=e.type, vshard=e.vshard,
                              tenant=e.tenant, nowait=True), e)
                    for e in entries[SINGLE:NOWAIT]]
        if promised:
            durable = c.sync()
            assert all(lsn <= durable for lsn, _ in promised), \
                (promised[-1][0], durable)
            done += promised
        for k in range(NOWAIT, count, BATCH):
            part = entries[k:k + BATCH]
            done += zip(c.append_many(part, ack=None), part)
    last = 0
    for lsn, e in done:
        if lsn <= last:
            raise SystemExit(f"interop.py: LSN {lsn} after {last}")
        last = lsn
        out.write(line(lsn, e.type, e.tenant, e.vshard, e.payload))


def dump(sock: str, tenant: int | None, out: TextIO) -> None:
    """Prints every record of the log (of one tenant), in LSN order."""
    last = 0
    with walld.Client(sock, timeout=60) as c:
        for r in c.read(from_lsn=0, tenant=tenant):
            if r.lsn <= last:
                raise SystemExit(f"interop.py: LSN {r.lsn} after {last}")
            last = r.lsn
            out.write(line(r.lsn, r.type, r.tenant, r.vshard, r.payload))


def main(argv: list[str]) -> int:
    usage = ("usage: interop.py append SOCKET COUNT\n"
             "       interop.py dump SOCKET [TENANT]")
    try:
        if len(argv) == 4 and argv[1] == "append":
            append(argv[2], int(argv[3]), sys.stdout)
        elif len(argv) in (3, 4) and argv[1] == "dump":
            dump(argv[2], int(argv[3]) if len(argv) == 4 else None,
                 sys.stdout)
        else:
            print(usage, file=sys.stderr)
            return 64
    except ValueError as e:
        print(f"interop.py: {e}\n{usage}", file=sys.stderr)
        return 64
    except walld.WalldError as e:
        print(f"interop.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
