// SPDX-License-Identifier: Apache-2.0
//! The wire format of proto/PROTOCOL.md: constants, frame encoding and
//! header checks. No I/O here.

/// Bytes of a frame header.
pub(crate) const HDR_LEN: usize = 16;
/// No frame is ever larger than this (17 MiB), in either direction.
pub(crate) const MAX_FRAME_HARD: u32 = 17 << 20;
/// The protocol version a [`Client`](crate::Client) asks for: version 1
/// only, whatever walld speaks.
pub(crate) const VERSION: u16 = 1;
/// Protocol version 2, the highest this crate speaks: the first with
/// idempotent appends (a [`Producer`](crate::Producer)'s connection asks
/// for it alone), consumer cursors, READ_END's flag `SEALED_END` and
/// TRUNCATE's flag `FORCE` (PROTOCOL.md section 6).
pub(crate) const VERSION_2: u16 = 2;
/// Bytes of an APPEND body before the payload.
pub(crate) const APPEND_FIXED: usize = 8;
/// Bytes of an idempotent APPEND body (flag `PRODUCER`) before the
/// payload: the producer id and sequence number follow the tenant.
pub(crate) const APPEND_SEQ_FIXED: usize = 24;
/// `max_frame - max_record` at least, in a HELLO reply of version 1: an
/// APPEND of the largest payload fits.
pub(crate) const FRAME_SLACK: u32 = (HDR_LEN + APPEND_FIXED) as u32;
/// The same in version 2: an idempotent APPEND of the largest payload
/// fits.
pub(crate) const FRAME_SLACK_V2: u32 = (HDR_LEN + APPEND_SEQ_FIXED) as u32;
/// Bytes of a RECORD body before the payload.
pub(crate) const RECORD_FIXED: usize = 16;

pub(crate) const OP_HELLO: u8 = 0x01;
pub(crate) const OP_APPEND: u8 = 0x02;
pub(crate) const OP_SYNC: u8 = 0x03;
pub(crate) const OP_SEAL: u8 = 0x04;
pub(crate) const OP_ROTATE: u8 = 0x05;
pub(crate) const OP_READ: u8 = 0x06;
pub(crate) const OP_TRUNCATE: u8 = 0x07;
pub(crate) const OP_STATS: u8 = 0x08;
pub(crate) const OP_PING: u8 = 0x09;
pub(crate) const OP_READ_CANCEL: u8 = 0x0a;
/// Version 2: the cursor requests (PROTOCOL.md section 6).
pub(crate) const OP_CURSOR_CREATE: u8 = 0x0b;
pub(crate) const OP_CURSOR_COMMIT: u8 = 0x0c;
pub(crate) const OP_CURSOR_GET: u8 = 0x0d;
pub(crate) const OP_CURSOR_LIST: u8 = 0x0e;
pub(crate) const OP_CURSOR_DROP: u8 = 0x0f;
pub(crate) const REPLY: u8 = 0x80;
pub(crate) const OP_RECORD: u8 = 0xc0;
pub(crate) const OP_READ_END: u8 = 0xc1;
pub(crate) const OP_ERROR: u8 = 0xff;

pub(crate) const F_NOWAIT: u8 = 0x01;
/// APPEND, SYNC: reply once durable and held by the replication stream.
pub(crate) const F_REPLICATED: u8 = 0x02;
/// APPEND, SYNC: reply once durable on walld's disk.
pub(crate) const F_LOCAL: u8 = 0x04;
/// APPEND (version 2): idempotent, with a producer id and sequence number.
pub(crate) const F_PRODUCER: u8 = 0x08;
pub(crate) const F_FOLLOW: u8 = 0x01;
pub(crate) const F_TENANT: u8 = 0x02;
pub(crate) const F_VSHARD: u8 = 0x04;
pub(crate) const F_TYPE: u8 = 0x08;
/// TRUNCATE (version 2): remove the segments even when a cursor has not
/// consumed their records.
pub(crate) const F_FORCE: u8 = 0x02;
/// READ_END (version 2): the read reached the end of a sealed log; no
/// record will ever follow. The one flag a frame from walld may carry
/// (this crate never asks for `UNTIL_END`).
pub(crate) const F_SEALED_END: u8 = 0x01;

/// The longest cursor name, in bytes.
pub(crate) const CURSOR_NAME_MAX: usize = 64;
/// Bytes of a CURSOR_CREATE or CURSOR_COMMIT body before the name.
pub(crate) const CURSOR_LSN_FIXED: usize = 8;
/// Bytes of a CURSOR_LIST reply body before its entries: count, flags.
pub(crate) const CURSOR_LIST_FIXED: usize = 8;
/// Bytes of a CURSOR_LIST entry before its name: lsn, commit_ms, the
/// name's length.
pub(crate) const CURSOR_ENT_FIXED: usize = 17;
/// CURSOR_LIST reply flag: there are cursors after the last entry.
pub(crate) const CURSOR_LIST_MORE: u32 = 0x1;

/// A frame header as read from the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub len: u32,
    pub op: u8,
    pub flags: u8,
    pub id: u64,
}

pub(crate) fn get16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

pub(crate) fn get32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

pub(crate) fn get64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Checks a header the server sent against the rules of PROTOCOL.md §1:
/// the length between 16 and `max_frame`, the reserved field zero, and no
/// flags: nothing the server sends carries any, but a READ_END on a
/// connection of protocol `version` 2, which may carry `SEALED_END`. The
/// op itself is checked by whoever dispatches the frame.
pub(crate) fn parse_header(
    b: &[u8; HDR_LEN],
    max_frame: u32,
    version: u16,
) -> Result<Header, String> {
    let h = Header {
        len: get32(&b[0..4]),
        op: b[4],
        flags: b[5],
        id: get64(&b[8..16]),
    };
    if (h.len as usize) < HDR_LEN {
        return Err(format!("frame length {} is below the header's 16 bytes", h.len));
    }
    if h.len > max_frame {
        return Err(format!(
            "frame length {} is above the limit of {} bytes",
            h.len, max_frame
        ));
    }
    if get16(&b[6..8]) != 0 {
        return Err("the reserved header field is not zero".to_string());
    }
    let allowed = if h.op == OP_READ_END && version >= VERSION_2 {
        F_SEALED_END
    } else {
        0
    };
    if h.flags & !allowed != 0 {
        return Err(format!(
            "flags 0x{:02x} on a frame from the server (op 0x{:02x})",
            h.flags, h.op
        ));
    }
    Ok(h)
}

/// Appends the 16-byte header of a frame whose body is `body_len` bytes.
pub(crate) fn put_header(out: &mut Vec<u8>, op: u8, flags: u8, id: u64, body_len: usize) {
    let len = (HDR_LEN + body_len) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.push(op);
    out.push(flags);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&id.to_le_bytes());
}

/// A whole HELLO frame asking for versions `version..=version`.
pub(crate) fn hello(id: u64, version: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(HDR_LEN + 4);
    put_header(&mut f, OP_HELLO, 0, id, 4);
    f.extend_from_slice(&version.to_le_bytes());
    f.extend_from_slice(&version.to_le_bytes());
    f
}

/// The fields of an idempotent APPEND (flag `PRODUCER`) before its
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeqAppend {
    pub record_type: u16,
    pub vshard_id: u16,
    pub tenant_id: u32,
    /// The producer id, not 0.
    pub producer: u64,
    /// The record's sequence number, not 0.
    pub seq: u64,
}

/// Appends a whole idempotent APPEND frame to `out`: flag `PRODUCER`,
/// and `level`, at most one of `F_REPLICATED` and `F_LOCAL` (never
/// `F_NOWAIT`, which walld refuses with it).
pub(crate) fn append_seq(out: &mut Vec<u8>, id: u64, level: u8, a: &SeqAppend, payload: &[u8]) {
    out.reserve(HDR_LEN + APPEND_SEQ_FIXED + payload.len());
    put_header(
        out,
        OP_APPEND,
        level | F_PRODUCER,
        id,
        APPEND_SEQ_FIXED + payload.len(),
    );
    out.extend_from_slice(&a.record_type.to_le_bytes());
    out.extend_from_slice(&a.vshard_id.to_le_bytes());
    out.extend_from_slice(&a.tenant_id.to_le_bytes());
    out.extend_from_slice(&a.producer.to_le_bytes());
    out.extend_from_slice(&a.seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends a whole APPEND frame with `flags` (`F_NOWAIT`, or at most one
/// of `F_REPLICATED` and `F_LOCAL`) to `out`.
pub(crate) fn append(
    out: &mut Vec<u8>,
    id: u64,
    flags: u8,
    record_type: u16,
    tenant_id: u32,
    vshard_id: u16,
    payload: &[u8],
) {
    out.reserve(HDR_LEN + APPEND_FIXED + payload.len());
    put_header(out, OP_APPEND, flags, id, APPEND_FIXED + payload.len());
    out.extend_from_slice(&record_type.to_le_bytes());
    out.extend_from_slice(&vshard_id.to_le_bytes());
    out.extend_from_slice(&tenant_id.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A whole frame with an empty body (SYNC, SEAL, ROTATE, STATS, PING,
/// READ_CANCEL).
pub(crate) fn empty(op: u8, id: u64) -> Vec<u8> {
    empty_flags(op, 0, id)
}

/// A whole frame with an empty body and `flags` (a SYNC's level).
pub(crate) fn empty_flags(op: u8, flags: u8, id: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(HDR_LEN);
    put_header(&mut f, op, flags, id, 0);
    f
}

/// A whole frame whose body is one u64 (TRUNCATE), with `flags`
/// (TRUNCATE's `FORCE`, version 2).
pub(crate) fn with_u64(op: u8, flags: u8, id: u64, v: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(HDR_LEN + 8);
    put_header(&mut f, op, flags, id, 8);
    f.extend_from_slice(&v.to_le_bytes());
    f
}

/// True when `name` may name a cursor: 1..64 bytes of `[A-Za-z0-9._-]`,
/// the first a letter or a digit (proto/frame.c's
/// `wire_cursor_name_valid`).
pub(crate) fn cursor_name_valid(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= CURSOR_NAME_MAX
        && name[0].is_ascii_alphanumeric()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// A whole cursor request frame (`OP_CURSOR_*`): for CREATE and COMMIT
/// the u64 `lsn`, then the name (for LIST: the name to list after,
/// possibly empty), which fills the rest of the body.
pub(crate) fn cursor(op: u8, id: u64, lsn: Option<u64>, name: &[u8]) -> Vec<u8> {
    let fixed = if lsn.is_some() { CURSOR_LSN_FIXED } else { 0 };
    let mut f = Vec::with_capacity(HDR_LEN + fixed + name.len());
    put_header(&mut f, op, 0, id, fixed + name.len());
    if let Some(lsn) = lsn {
        f.extend_from_slice(&lsn.to_le_bytes());
    }
    f.extend_from_slice(name);
    f
}

/// The fields of a READ request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReadReq {
    pub from: u64,
    pub to: u64,
    pub follow: bool,
    pub tenant: Option<u32>,
    pub vshard: Option<u16>,
    pub record_type: Option<u16>,
}

/// A whole READ frame.
pub(crate) fn read(id: u64, r: &ReadReq) -> Vec<u8> {
    let mut flags = 0;
    if r.follow {
        flags |= F_FOLLOW;
    }
    if r.tenant.is_some() {
        flags |= F_TENANT;
    }
    if r.vshard.is_some() {
        flags |= F_VSHARD;
    }
    if r.record_type.is_some() {
        flags |= F_TYPE;
    }
    let mut f = Vec::with_capacity(HDR_LEN + 24);
    put_header(&mut f, OP_READ, flags, id, 24);
    f.extend_from_slice(&r.from.to_le_bytes());
    f.extend_from_slice(&r.to.to_le_bytes());
    f.extend_from_slice(&r.tenant.unwrap_or(0).to_le_bytes());
    f.extend_from_slice(&r.vshard.unwrap_or(0).to_le_bytes());
    f.extend_from_slice(&r.record_type.unwrap_or(0).to_le_bytes());
    f
}

/// The name of an op, for messages.
pub(crate) fn op_name(op: u8) -> &'static str {
    match op {
        OP_HELLO => "hello",
        OP_APPEND => "append",
        OP_SYNC => "sync",
        OP_SEAL => "seal",
        OP_ROTATE => "rotate",
        OP_READ => "read",
        OP_TRUNCATE => "truncate",
        OP_STATS => "stats",
        OP_PING => "ping",
        OP_READ_CANCEL => "read-cancel",
        OP_CURSOR_CREATE => "cursor-create",
        OP_CURSOR_COMMIT => "cursor-commit",
        OP_CURSOR_GET => "cursor-get",
        OP_CURSOR_LIST => "cursor-list",
        OP_CURSOR_DROP => "cursor-drop",
        OP_RECORD => "record",
        OP_READ_END => "read-end",
        OP_ERROR => "error",
        _ if op & REPLY != 0
            && op & !REPLY >= OP_HELLO
            && op & !REPLY <= OP_CURSOR_DROP
            && op & !REPLY != OP_READ_CANCEL =>
        {
            "reply"
        }
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_frame_layout() {
        let mut f = Vec::new();
        append(&mut f, 0x0102030405060708, F_NOWAIT, 0x1122, 0x33445566, 0x7788, b"xyz");
        assert_eq!(f.len(), 16 + 8 + 3);
        assert_eq!(&f[0..4], &27u32.to_le_bytes());
        assert_eq!(f[4], OP_APPEND);
        assert_eq!(f[5], F_NOWAIT);
        assert_eq!(&f[6..8], &[0, 0]);
        assert_eq!(&f[8..16], &0x0102030405060708u64.to_le_bytes());
        // type, vshard, tenant: in that order on the wire.
        assert_eq!(&f[16..18], &0x1122u16.to_le_bytes());
        assert_eq!(&f[18..20], &0x7788u16.to_le_bytes());
        assert_eq!(&f[20..24], &0x33445566u32.to_le_bytes());
        assert_eq!(&f[24..], b"xyz");
    }

    #[test]
    fn read_frame_flags_and_fields() {
        let r = ReadReq {
            from: 5,
            to: 9,
            follow: true,
            tenant: Some(7),
            vshard: None,
            record_type: Some(3),
        };
        let f = read(4, &r);
        assert_eq!(f.len(), 40);
        assert_eq!(f[4], OP_READ);
        assert_eq!(f[5], F_FOLLOW | F_TENANT | F_TYPE);
        assert_eq!(get64(&f[16..]), 5);
        assert_eq!(get64(&f[24..]), 9);
        assert_eq!(get32(&f[32..]), 7);
        assert_eq!(get16(&f[36..]), 0);
        assert_eq!(get16(&f[38..]), 3);
    }

    #[test]
    fn hello_frame() {
        let f = hello(1, VERSION);
        assert_eq!(f, [20, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0]);
        let f = hello(3, VERSION_2);
        assert_eq!(f, [20, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0]);
    }

    #[test]
    fn append_seq_frame_layout() {
        let a = SeqAppend {
            record_type: 0x1122,
            vshard_id: 0x7788,
            tenant_id: 0x33445566,
            producer: 0x0a0b0c0d0e0f1011,
            seq: 42,
        };
        let mut f = Vec::new();
        append_seq(&mut f, 9, F_LOCAL, &a, b"xyz");
        assert_eq!(f.len(), 16 + 24 + 3);
        assert_eq!(get32(&f[0..4]), 43);
        assert_eq!((f[4], f[5]), (OP_APPEND, F_LOCAL | F_PRODUCER));
        assert_eq!(get64(&f[8..16]), 9);
        // type, vshard, tenant, producer, seq: in that order on the wire.
        assert_eq!(get16(&f[16..18]), 0x1122);
        assert_eq!(get16(&f[18..20]), 0x7788);
        assert_eq!(get32(&f[20..24]), 0x33445566);
        assert_eq!(get64(&f[24..32]), 0x0a0b0c0d0e0f1011);
        assert_eq!(get64(&f[32..40]), 42);
        assert_eq!(&f[40..], b"xyz");
        // The largest idempotent APPEND fits version 2's max_frame.
        assert_eq!(FRAME_SLACK_V2 as usize, f.len() - 3);
        assert_eq!(FRAME_SLACK, 24);
    }

    #[test]
    fn header_rules() {
        let mut b = [0u8; 16];
        b[0] = 24;
        b[4] = OP_APPEND | REPLY;
        b[8] = 9;
        let h = parse_header(&b, 1024, VERSION).unwrap();
        assert_eq!((h.len, h.op, h.flags, h.id), (24, 0x82, 0, 9));
        b[0] = 15;
        assert!(parse_header(&b, 1024, VERSION).is_err());
        b[0] = 0;
        b[1] = 8; // 2048
        assert!(parse_header(&b, 1024, VERSION).is_err());
        b[1] = 0;
        b[0] = 16;
        b[6] = 1;
        assert!(parse_header(&b, 1024, VERSION).is_err());
        b[6] = 0;
        b[5] = 1;
        assert!(parse_header(&b, 1024, VERSION).is_err());
        assert!(parse_header(&b, 1024, VERSION_2).is_err());
    }

    #[test]
    fn read_end_flags_by_version() {
        let mut b = [0u8; 16];
        b[0] = 24;
        b[4] = OP_READ_END;
        b[8] = 3;
        for flags in [0u8, F_SEALED_END] {
            b[5] = flags;
            let h = parse_header(&b, 1024, VERSION_2).unwrap();
            assert_eq!((h.op, h.flags), (OP_READ_END, flags));
        }
        // Version 1: no flag at all; version 2: SEALED_END and no other
        // (UNTIL_END 0x02 answers a READ flag this crate never sends).
        b[5] = F_SEALED_END;
        assert!(parse_header(&b, 1024, VERSION).unwrap_err().contains("flags 0x01"));
        for flags in [0x02u8, 0x03, 0x80] {
            b[5] = flags;
            assert!(parse_header(&b, 1024, VERSION_2).is_err(), "{:#x}", flags);
        }
        // Other frames: never a flag.
        b[5] = F_SEALED_END;
        for op in [OP_RECORD, OP_ERROR, OP_PING | REPLY, OP_CURSOR_LIST | REPLY] {
            b[4] = op;
            assert!(parse_header(&b, 1024, VERSION_2).is_err(), "op {:#x}", op);
        }
    }

    #[test]
    fn cursor_names() {
        let long = "a".repeat(64);
        for ok in ["a", "0", "Z", "etl", "billing.v2", "shipper-eu_1", "9.-_", &long] {
            assert!(cursor_name_valid(ok.as_bytes()), "{:?}", ok);
        }
        let too_long = "a".repeat(65);
        for bad in [
            "", "-a", ".", "..", "_a", ".a", "a b", "a/b", "a:b", "caf\u{e9}", "a\0", &too_long,
        ] {
            assert!(!cursor_name_valid(bad.as_bytes()), "{:?}", bad);
        }
    }

    #[test]
    fn cursor_frames() {
        let f = cursor(OP_CURSOR_COMMIT, 7, Some(0x0102030405060708), b"etl");
        assert_eq!(f.len(), 16 + 8 + 3);
        assert_eq!(get32(&f[0..4]), 27);
        assert_eq!((f[4], f[5]), (OP_CURSOR_COMMIT, 0));
        assert_eq!(get64(&f[8..16]), 7);
        assert_eq!(get64(&f[16..24]), 0x0102030405060708);
        assert_eq!(&f[24..], b"etl");
        let f = cursor(OP_CURSOR_GET, 8, None, b"etl");
        assert_eq!((f.len(), f[4], &f[16..]), (19, OP_CURSOR_GET, &b"etl"[..]));
        // A LIST from the first cursor: an empty body.
        let f = cursor(OP_CURSOR_LIST, 9, None, b"");
        assert_eq!((f.len(), f[4]), (16, OP_CURSOR_LIST));
        let f = with_u64(OP_TRUNCATE, F_FORCE, 10, 5);
        assert_eq!((f.len(), f[4], f[5], get64(&f[16..])), (24, OP_TRUNCATE, 0x02, 5));
        assert_eq!(op_name(OP_CURSOR_DROP), "cursor-drop");
        assert_eq!(op_name(OP_CURSOR_DROP | REPLY), "reply");
        assert_eq!(op_name(OP_READ_CANCEL | REPLY), "unknown");
    }
}
