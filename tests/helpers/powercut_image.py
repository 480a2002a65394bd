#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""powercut_image.py: turns a copy of a data directory, taken after walld
ran under tests/shims/powercut.c and was killed, into what a power cut at
that moment could leave on the disk. Reads the shim's undo journal
(format: the comment at the top of powercut.c) and undoes, newest first,
every change no successful sync covered: writes and size changes not
followed by an fsync/fdatasync of their file, creations, renames and
unlinks not followed by an fsync of the directory.

  powercut_image.py [--torn SEED] [--at SEQ | --at-time T] IMAGE JOURNAL
  powercut_image.py --points SEED N JOURNAL

Default: the worst case, every unsynced change lost. --torn SEED keeps a
random half of the unsynced 512-byte sectors (and of the size changes)
instead, the rest lost: a disk that wrote some of them in any order.
--at SEQ cuts the power earlier, right after the change of entry SEQ:
every later change is undone as well, and only syncs up to SEQ count.
--at-time T cuts after the last entry made at or before T, in seconds of
/proc/uptime (the shim stamps each entry with CLOCK_BOOTTIME).
--points prints N such cut points for a sweep: half right after a
directory change or sync (creations, renames, unlinks: rollovers,
rotations, truncations, seals), half anywhere.
Exits 0 with one summary line, 1 on a journal it cannot trust, 2 on a
usage or I/O error.
"""
import os
import random
import shutil
import struct
import sys
import zlib

MAGIC = 0x314a4350
HDR = struct.Struct("<IIQBBHHHQQQIQ")   # 60 bytes
SECTOR = 512


class Bad(Exception):
    pass


class Entry:
    __slots__ = ("seq", "type", "zero", "name1", "name2", "ino", "off",
                 "size", "ndata", "ns", "data", "durable", "fid", "gone_fid")


class File:
    """One file (an inode) as the journal follows it across renames."""
    __slots__ = ("ino", "pending")

    def __init__(self, ino):
        self.ino = ino
        self.pending = []


def read_journal(path):
    """The journal's entries and whether its last one was torn."""
    with open(path, "rb") as f:
        buf = f.read()
    out, pos, torn = [], 0, False
    while pos < len(buf):
        if len(buf) - pos < HDR.size + 4:
            torn = True
            break
        (magic, length, seq, typ, flags, l1, l2, _z, ino, off, size,
         ndata, ns) = HDR.unpack_from(buf, pos)
        if magic != MAGIC or length < HDR.size + 4:
            raise Bad("journal offset %d: not an entry" % pos)
        if pos + length > len(buf):
            torn = True
            break
        (crc,) = struct.unpack_from("<I", buf, pos + length - 4)
        if zlib.crc32(buf[pos:pos + length - 4]) != crc:
            if pos + length == len(buf):
                torn = True
                break
            raise Bad("journal offset %d: CRC mismatch" % pos)
        e = Entry()
        e.seq, e.type, e.zero = seq, chr(typ), bool(flags & 1)
        p = pos + HDR.size
        e.name1 = buf[p:p + l1].decode()
        e.name2 = buf[p + l1:p + l1 + l2].decode()
        p += l1 + l2
        e.ino, e.off, e.size, e.ndata, e.ns = ino, off, size, ndata, ns
        if e.type == "W":
            stored = pos + length - 4 - p   # the zeros they end with: cut
            if stored < 0 or stored > ndata:
                raise Bad("journal offset %d: bad length" % pos)
            e.data = buf[p:p + stored] + bytes(ndata - stored)
        else:
            e.data = b""
        e.durable, e.fid, e.gone_fid = False, None, None
        out.append(e)
        pos += length
    return out, torn


def follow(entries, at):
    """Marks what each sync up to seq at made durable; names every file
    by identity.

    Returns the directory as the copy has it: name -> File."""
    names = {}          # name -> File, after every change so far
    dirops = []         # directory changes not yet made durable
    for e in entries:
        t = e.type
        if t == "X":
            raise Bad("the journal holds an unsupported call: " + e.name1)
        if t in "SD" and e.seq > at:
            continue            # after the cut: it did not happen
        if t == "W":
            f = names.get(e.name1)
            if f is None:
                f = names[e.name1] = File(e.ino)
            if f.ino is None:
                f.ino = e.ino
            if f.ino != e.ino:
                raise Bad("seq %d: %s is inode %d, the journal had %d"
                          % (e.seq, e.name1, e.ino, f.ino))
            e.fid = f
            f.pending.append(e)
        elif t == "S":
            f = next((g for g in names.values() if g.ino == e.ino), None)
            if f is None:
                continue        # gone already: nothing of it can matter
            keep = []
            for w in f.pending:
                if w.seq < e.off:
                    w.durable = True
                else:
                    keep.append(w)
            f.pending = keep
        elif t == "D":
            keep = []
            for d in dirops:
                if d.seq < e.off:
                    d.durable = True
                else:
                    keep.append(d)
            dirops = keep
        elif t == "C":
            if e.name1 not in names:
                names[e.name1] = File(None)
            e.fid = names[e.name1]
            dirops.append(e)
        elif t == "R":
            f = names.pop(e.name1, None)
            if f is None:
                f = File(None)
            e.gone_fid = names.get(e.name2)
            e.fid = names[e.name2] = f
            dirops.append(e)
        elif t == "U":
            e.gone_fid = names.pop(e.name1, None)
            dirops.append(e)
        else:
            raise Bad("seq %d: unknown entry type %r" % (e.seq, t))
    return names


def restore_aside(journal, e, dest):
    src = os.path.join(journal + ".aside", str(e.off))
    shutil.copyfile(src, dest)


def undo_write(path, e, rng):
    """Undoes one write or size change of the file at path."""
    fd = os.open(path, os.O_RDWR)
    try:
        if rng is None:
            os.ftruncate(fd, e.size)
            if e.ndata:
                os.pwrite(fd, e.data, e.off)
            return len(e.data) // SECTOR + 1
        cur = os.fstat(fd).st_size
        if cur != e.size:
            # A size change (with what a cut took away): all or nothing.
            if rng.random() < 0.5:
                return 0
            os.ftruncate(fd, e.size)
            if e.ndata:
                os.pwrite(fd, e.data, e.off)
            return len(e.data) // SECTOR + 1
        lost = 0
        # Each sector the change touched: lost (old bytes back) or kept.
        end = e.off + e.ndata
        s = e.off - e.off % SECTOR
        while s < end:
            a, b = max(s, e.off), min(s + SECTOR, end)
            if rng.random() < 0.5:
                os.pwrite(fd, e.data[a - e.off:b - e.off], a)
                lost += 1
            s += SECTOR
        return lost
    finally:
        os.close(fd)


def build(image, journal, torn_seed, at, at_time):
    entries, torn = read_journal(journal)
    if at_time is not None:
        # The last entry made at or before that time (seconds of
        # /proc/uptime); 0 when none was.
        ns = int(at_time * 1e9)
        at = max([e.seq for e in entries if e.ns <= ns] or [0])
    last = entries[-1].seq if entries else 0
    if at is None:
        at = last
    names = follow(entries, at)
    where = {f: n for n, f in names.items()}  # File -> its name in image
    rng = random.Random(torn_seed) if torn_seed is not None else None
    undone = sectors = 0
    # Torn: file systems journal directory changes in order, so what
    # survives of the unsynced ones is all of them up to a random point.
    kept = set()
    if rng is not None:
        ops = [e for e in entries
               if e.type in "CRU" and not e.durable and e.seq <= at]
        kept = set(id(e) for e in ops[:rng.randint(0, len(ops))])
    for e in reversed(entries):
        if e.durable or e.type in "SD":
            continue
        if e.type == "W":
            name = where.get(e.fid)
            if name is None:
                continue        # the file is gone from the image
            sectors += undo_write(os.path.join(image, name), e,
                                  rng if e.seq <= at else None)
            undone += 1
            continue
        if id(e) in kept:
            continue
        # Undone whether or not the call was made (a kill may fall between
        # its entry and the call): the names go back to before it.
        undone += 1
        p1 = os.path.join(image, e.name1)
        if e.type == "C":
            if os.path.lexists(p1):
                os.unlink(p1)
            where.pop(e.fid, None)
        elif e.type == "R":
            p2 = os.path.join(image, e.name2)
            if os.path.lexists(p2) and not os.path.lexists(p1):
                os.rename(p2, p1)
                if e.off:
                    restore_aside(journal, e, p2)
            where[e.fid] = e.name1
            if e.gone_fid is not None:
                where[e.gone_fid] = e.name2
        elif e.type == "U":
            if not os.path.lexists(p1) and e.off:
                restore_aside(journal, e, p1)
            if e.gone_fid is not None:
                where[e.gone_fid] = e.name1
    return len(entries), undone, sectors, torn, at


def points(journal, seed, n):
    """n cut points: half after a directory change or sync, half anywhere."""
    entries, _ = read_journal(journal)
    if not entries:
        return []
    rng = random.Random(seed)
    dirops = [e.seq for e in entries if e.type in "CRUD"]
    out = []
    for i in range(n):
        if i % 2 == 0 and dirops:
            out.append(rng.choice(dirops))
        else:
            out.append(rng.choice(entries).seq)
    return out


def main(argv):
    torn_seed = at = at_time = None
    args = argv[1:]
    try:
        if len(args) == 4 and args[0] == "--points":
            for p in points(args[3], int(args[1]), int(args[2])):
                print(p)
            return 0
        while len(args) > 2 and args[0] in ("--torn", "--at", "--at-time"):
            if args[0] == "--torn":
                torn_seed = int(args[1])
            elif args[0] == "--at":
                at = int(args[1])
            else:
                at_time = float(args[1])
            args = args[2:]
    except Bad as ex:
        print("powercut_image: %s" % ex, file=sys.stderr)
        return 1
    except (ValueError, OSError) as ex:
        print("powercut_image: %s" % ex, file=sys.stderr)
        return 2
    if len(args) != 2:
        print("usage: powercut_image.py [--torn SEED] [--at SEQ | "
              "--at-time T] IMAGE JOURNAL\n"
              "       powercut_image.py --points SEED N JOURNAL",
              file=sys.stderr)
        return 2
    image, journal = args
    try:
        cut = at is not None or at_time is not None
        n, undone, sectors, torn, at = build(image, journal, torn_seed, at,
                                             at_time)
    except Bad as ex:
        print("powercut_image: %s: %s" % (journal, ex), file=sys.stderr)
        return 1
    except OSError as ex:
        print("powercut_image: %s" % ex, file=sys.stderr)
        return 2
    print("%d journal entries, %d changes undone (%d sectors)%s%s%s"
          % (n, undone, sectors, "; torn last entry" if torn else "",
             "; torn mode" if torn_seed is not None else "",
             "; cut after entry %d" % at if cut else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
