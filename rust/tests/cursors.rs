// SPDX-License-Identifier: Apache-2.0
//! Consumer cursors (protocol version 2, PROTOCOL.md section 6) against a
//! real walld: create, commit, get, list (past one reply), drop; the
//! rules (a cursor never goes back, nothing above the durable LSN, unknown
//! names); durable across walld killed by PID; a truncate held by a
//! cursor; a read that ends at the end of a sealed log.
//! (python/tests/test_cursors.py, in Rust.)

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Walld, SIGKILL, SIGTERM};
use walld_client::{Client, Error, Filter, Reader};

/// Now, in Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// The payloads of a read until its end, waiting at most 10 s for each.
fn payloads_to_the_end(r: &mut Reader<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(rec) = r.next_timeout(Duration::from_secs(10)) {
        out.push(rec.expect("a record").payload);
    }
    out
}

#[test]
fn version_1_has_no_cursors() {
    let w = Walld::start();
    let c = w.client();
    assert_eq!(c.server_info().protocol_version, 1);
    match c.cursor_get("x") {
        Err(e @ Error::Version(_)) => {
            let m = e.to_string();
            assert!(m.contains("protocol(2)"), "{}", m);
            assert!(m.contains("nothing was sent"), "{}", m);
        }
        r => panic!("cursor_get on version 1: {:?}", r),
    }
    assert!(matches!(c.cursor_create("x", 0), Err(Error::Version(_))));
    assert!(matches!(c.cursor_commit("x", 0), Err(Error::Version(_))));
    assert!(matches!(c.cursors(), Err(Error::Version(_))));
    assert!(matches!(c.cursor_drop("x"), Err(Error::Version(_))));
    // Nothing was sent (walld closes a connection that sends a cursor
    // request on version 1): the connection goes on.
    c.ping().unwrap();
    assert!(!c.is_closed());

    // Versions this client does not speak: refused before connecting.
    for v in [0u16, 3] {
        match Client::options().protocol(v).connect(&w.sock) {
            Err(Error::Version(m)) => assert!(m.contains("versions 1 and 2"), "{}", m),
            r => panic!("protocol({}): {:?}", v, r.map(|_| ())),
        }
    }
    let c1 = Client::options().protocol(1).connect(&w.sock).unwrap();
    assert_eq!(c1.server_info().protocol_version, 1);
    assert_eq!(c1.timeout(), None);
}

#[test]
fn create_commit_get_drop_and_the_rules() {
    let w = Walld::start();
    let c = w.client_v2();
    assert_eq!(c.server_info().protocol_version, 2);
    assert_eq!(c.timeout(), Some(Duration::from_secs(5)));
    let lsns = c
        .append_many((0..10u32).map(|i| (1u16, 0u32, 0u16, format!("r{}", i).into_bytes())))
        .unwrap();
    assert_eq!(c.cursor_create("orders.v1", 0).unwrap(), 0);
    let fresh = c.cursor_get("orders.v1").unwrap();
    assert_eq!((fresh.lsn, fresh.commit_ms), (0, 0), "never committed");
    // Create if missing: the existing cursor is kept.
    assert_eq!(c.cursor_create("orders.v1", lsns[5]).unwrap(), 0);
    let before = now_ms();
    assert_eq!(c.cursor_commit("orders.v1", lsns[3]).unwrap(), lsns[3]);
    let got = c.cursor_get("orders.v1").unwrap();
    assert_eq!((got.name.as_str(), got.lsn), ("orders.v1", lsns[3]));
    assert!(
        before - 5000 <= got.commit_ms && got.commit_ms <= now_ms() + 5000,
        "commit_ms {} at {}",
        got.commit_ms,
        before
    );
    // A retried commit succeeds; a cursor never goes back.
    assert_eq!(c.cursor_commit("orders.v1", lsns[3]).unwrap(), lsns[3]);
    match c.cursor_commit("orders.v1", lsns[2]) {
        Err(e @ Error::Range(_)) => assert_eq!(e.code(), Some(9)),
        r => panic!("commit backwards: {:?}", r),
    }
    // Above the durable LSN: for a commit and for a create.
    let above = lsns[9] + 100;
    assert!(matches!(c.cursor_commit("orders.v1", above), Err(Error::Range(_))));
    assert!(matches!(c.cursor_create("ahead", above), Err(Error::Range(_))));
    assert_eq!(c.cursor_get("orders.v1").unwrap().lsn, lsns[3]);
    match c.cursor_get("missing") {
        Err(e @ Error::NotFound(_)) => {
            assert_eq!(e.code(), Some(16));
            assert!(e.to_string().contains("missing"), "{}", e);
        }
        r => panic!("get of a missing cursor: {:?}", r),
    }
    assert!(matches!(c.cursor_commit("missing", 1), Err(Error::NotFound(_))));
    // Names that break the rules are refused here: walld would close
    // the connection on them.
    let long = "x".repeat(65);
    for bad in ["-starts-with-a-dash", long.as_str(), "", ".", "a b", "caf\u{e9}"] {
        match c.cursor_create(bad, 0) {
            Err(Error::BadRequest(m)) => assert!(m.contains("nothing was sent"), "{}", m),
            r => panic!("create {:?}: {:?}", bad, r),
        }
        assert!(matches!(c.cursor_get(bad), Err(Error::BadRequest(_))));
    }
    let longest = "9".repeat(64);
    assert_eq!(c.cursor_create(&longest, lsns[9]).unwrap(), lsns[9]);
    let names: Vec<String> = c.cursors().unwrap().into_iter().map(|x| x.name).collect();
    assert_eq!(names, [longest.clone(), "orders.v1".to_string()]);
    assert_eq!(c.cursor_drop(&longest).unwrap(), lsns[9]);
    assert_eq!(c.cursor_drop("orders.v1").unwrap(), lsns[3]);
    assert!(matches!(c.cursor_drop("orders.v1"), Err(Error::NotFound(_))));
    assert!(c.cursors().unwrap().is_empty());
    c.ping().unwrap(); // errors leave the connection usable
    assert!(!c.is_closed());
}

/// A proxy on a socket of its own in front of walld's, for one
/// connection: it passes every byte on, and keeps the body of each
/// CURSOR_LIST request the client sends (the name it lists after).
struct ListSpy {
    path: PathBuf,
    asked: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: JoinHandle<()>,
}

impl ListSpy {
    fn start(w: &Walld) -> ListSpy {
        let path = w.dir.join("spy.sock");
        let l = UnixListener::bind(&path).unwrap();
        let sock = w.sock.clone();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let asked2 = Arc::clone(&asked);
        let thread = thread::spawn(move || {
            let (mut down, _) = l.accept().unwrap();
            let mut up = UnixStream::connect(&sock).unwrap();
            let (mut up_r, mut down_w) = (up.try_clone().unwrap(), down.try_clone().unwrap());
            let back = thread::spawn(move || {
                let _ = std::io::copy(&mut up_r, &mut down_w);
                let _ = down_w.shutdown(Shutdown::Write);
            });
            loop {
                let mut h = [0u8; 16];
                if down.read_exact(&mut h).is_err() {
                    break; // the client closed
                }
                let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let mut body = vec![0u8; len - 16];
                down.read_exact(&mut body).unwrap();
                if h[4] == 0x0e {
                    asked2.lock().unwrap().push(body.clone());
                }
                up.write_all(&h).unwrap();
                up.write_all(&body).unwrap();
            }
            let _ = up.shutdown(Shutdown::Write);
            back.join().unwrap();
        });
        ListSpy {
            path,
            asked,
            thread,
        }
    }
}

#[test]
fn list_pages_and_survives_kill_9() {
    let mut w = Walld::start();
    let n = 900; // 81 bytes an entry: more than one 64 KiB reply holds
    let mut names: Vec<String> = (0..n)
        .map(|i| format!("consumer-{:04}-{}", i, "x".repeat(50)))
        .collect();
    names.sort();
    assert!(names.iter().all(|s| s.len() == 64));
    let c = w.client_v2();
    let last = c.append(1, 0, 0, b"one record").unwrap();
    let want_lsn = |i: usize| if i % 2 == 1 { last } else { 0 };
    for (i, name) in names.iter().enumerate() {
        assert_eq!(c.cursor_create(name, want_lsn(i)).unwrap(), want_lsn(i));
    }
    drop(c);

    let spy = ListSpy::start(&w);
    let c = Client::options()
        .protocol(2)
        .timeout(Some(Duration::from_secs(5)))
        .connect(&spy.path)
        .unwrap();
    let listed = c.cursors().unwrap();
    drop(c);
    spy.thread.join().unwrap();
    let asked = spy.asked.lock().unwrap().clone();
    assert!(asked.len() >= 2, "{} CURSOR_LIST requests", asked.len());
    assert!(asked[0].is_empty(), "the first asks from the start");
    let second = String::from_utf8(asked[1].clone()).unwrap();
    assert!(names.contains(&second), "the second asks after {:?}", second);
    assert_eq!(
        listed.iter().map(|x| &x.name).collect::<Vec<_>>(),
        names.iter().collect::<Vec<_>>()
    );
    assert_eq!(
        listed.iter().map(|x| x.lsn).collect::<Vec<_>>(),
        (0..n).map(want_lsn).collect::<Vec<_>>()
    );

    // Acknowledged means durable: walld killed by its PID, then started
    // again on the same socket and data.
    w.signal(SIGKILL);
    let st = w.wait_exit();
    assert_eq!(st.signal(), Some(SIGKILL), "walld's status: {}", st);
    w.launch();
    assert_eq!(w.client_v2().cursors().unwrap(), listed);
}

#[test]
fn truncate_held_by_a_cursor_then_forced() {
    let w = Walld::start();
    let c = w.client_v2();
    let first = c.append(1, 0, 0, b"in the first segment").unwrap();
    c.rotate().unwrap();
    c.append(1, 0, 0, b"in the second").unwrap();
    c.cursor_create("slow", 0).unwrap();
    match c.truncate(first + 1) {
        Err(e @ Error::Held(_)) => {
            assert_eq!(e.code(), Some(17));
            assert!(e.to_string().contains("slow"), "{}", e);
        }
        r => panic!("truncate past a cursor: {:?}", r),
    }
    // Version 1 is refused the same truncate as NOT_PERMITTED, and
    // cannot force it.
    let c1 = w.client();
    match c1.truncate(first + 1) {
        Err(Error::NotPermitted(m)) => assert!(m.contains("slow"), "{}", m),
        r => panic!("truncate past a cursor on version 1: {:?}", r),
    }
    match c1.truncate_force(1) {
        Err(Error::Version(m)) => assert!(m.contains("protocol(2)"), "{}", m),
        r => panic!("truncate_force on version 1: {:?}", r),
    }
    c1.ping().unwrap(); // nothing was sent
    assert_eq!(c.stats().unwrap().first_lsn, first, "nothing removed");

    assert!(c.truncate_force(first + 1).unwrap() > first);
    assert!(c.stats().unwrap().first_lsn > first);
    // The cursor stays where it was.
    assert_eq!(c.cursor_get("slow").unwrap().lsn, 0);
}

#[test]
fn read_ends_at_the_end_of_a_sealed_log() {
    let w = Walld::start();
    let c = w.client_v2();
    let lsn = c.append(1, 0, 0, b"last").unwrap();
    c.seal().unwrap();

    let mut r = c.follow(0, Filter::all()).unwrap();
    assert!(!r.sealed());
    assert_eq!(payloads_to_the_end(&mut r), [b"last".to_vec()]);
    assert!(r.is_finished() && r.sealed());
    assert_eq!(r.next_lsn(), Some(lsn + 1));
    drop(r);
    // A plain read says so too.
    let mut r = c.read(0, Filter::all()).unwrap();
    assert_eq!(payloads_to_the_end(&mut r), [b"last".to_vec()]);
    assert!(r.sealed());
    drop(r);

    // Cursors on a sealed log.
    assert_eq!(c.cursor_create("a", lsn).unwrap(), lsn);
    assert_eq!(c.cursor_get("a").unwrap().lsn, lsn);
    let names: Vec<String> = c.cursors().unwrap().into_iter().map(|x| x.name).collect();
    assert_eq!(names, ["a"]);
    assert_eq!(c.cursor_drop("a").unwrap(), lsn);

    // Version 1: no flag; a follow read waits at the end for ever.
    let c1 = w.client();
    let mut r = c1.read(0, Filter::all()).unwrap();
    assert_eq!(payloads_to_the_end(&mut r), [b"last".to_vec()]);
    assert!(r.is_finished() && !r.sealed());
    let mut f = c1.follow(0, Filter::all()).unwrap();
    let rec = f.next_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(rec.payload, b"last");
    assert!(matches!(
        f.next_timeout(Duration::from_millis(300)),
        Some(Err(Error::Timeout))
    ));
    assert!(!f.is_finished() && !f.sealed());
}

#[test]
fn a_follow_read_walld_ends_is_not_sealed() {
    let mut w = Walld::start();
    let c = w.client_v2();
    c.append(1, 0, 0, b"one").unwrap();
    let mut f = c.follow(0, Filter::all()).unwrap();
    assert_eq!(f.next_timeout(Duration::from_secs(10)).unwrap().unwrap().lsn, 1);
    w.signal(SIGTERM);
    // walld stopping ends the read, without SEALED_END: read again from
    // next_lsn once it is back.
    assert!(f.next_timeout(Duration::from_secs(10)).is_none());
    assert_eq!(f.next_lsn(), Some(2));
    assert!(!f.sealed());
    drop(f);
    assert!(w.wait_exit().success());
}
