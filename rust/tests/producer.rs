// SPDX-License-Identifier: Apache-2.0
//! Idempotent appends (`Producer`, protocol version 2) against a real
//! walld: a record sent again under its number is written once, across
//! walld killed (SIGKILL by PID) and restarted mid-stream; definite
//! refusals leave the number free; an append given up on stays pending
//! until `resume` settles it. (python/tests/test_producer.py, in Rust.)

mod common;

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Walld, SIGKILL};
use walld_client::{Error, Filter, Producer};

/// Every record of w's log from LSN `first`: (LSN, payload).
fn payloads(w: &Walld, first: u64) -> Vec<(u64, Vec<u8>)> {
    w.client()
        .read(first, Filter::all())
        .expect("read")
        .map(|r| {
            let r = r.expect("read a record");
            (r.lsn, r.payload)
        })
        .collect()
}

fn rec(i: usize) -> Vec<u8> {
    format!("rec {}", i).into_bytes()
}

/// Kills walld with SIGKILL, by its PID, and checks that it died of it.
fn kill_9(w: &mut Walld) {
    w.signal(SIGKILL);
    let st = w.wait_exit();
    assert_eq!(st.signal(), Some(SIGKILL), "walld's status: {}", st);
}

#[test]
fn numbers_and_a_retry_answered_with_the_first_lsn() {
    let w = Walld::start();
    let mut p = Producer::options().tenant(3).open(&w.sock).expect("open");
    assert_ne!(p.producer_id(), 0);
    assert_eq!((p.next_seq(), p.tenant()), (1, 3));
    let lsns: Vec<u64> = (0..5)
        .map(|i| p.append(2, 1, &rec(i)).expect("append"))
        .collect();
    let mut sorted = lsns.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, lsns);
    assert_eq!(p.next_seq(), 6);
    assert!(!p.is_pending());
    assert_eq!(p.retries(), 0);
    let pid = p.producer_id();
    drop(p);
    let before = w.client().stats().expect("stats").next_lsn;

    // The same producer again from number 3: walld recognises 3 and 4
    // and writes nothing.
    let mut q = Producer::options()
        .producer_id(pid)
        .tenant(3)
        .next_seq(3)
        .open(&w.sock)
        .expect("open again");
    assert_eq!(q.append(2, 1, &rec(2)).expect("retry of 3"), lsns[2]);
    assert_eq!(q.append(2, 1, &rec(3)).expect("retry of 4"), lsns[3]);
    assert_eq!(q.next_seq(), 5);
    assert_eq!(w.client().stats().expect("stats").next_lsn, before);
    drop(q);

    // Under another tenant the same id is another producer.
    let mut o = Producer::options()
        .producer_id(pid)
        .tenant(4)
        .next_seq(3)
        .open(&w.sock)
        .expect("open under tenant 4");
    assert!(o.append(0, 0, b"other tenant").expect("append") >= before);
    drop(o);

    let recs: HashMap<u64, Vec<u8>> = payloads(&w, lsns[0]).into_iter().collect();
    let got: Vec<&Vec<u8>> = lsns.iter().map(|n| &recs[n]).collect();
    let want: Vec<Vec<u8>> = (0..5).map(rec).collect();
    assert_eq!(got, want.iter().collect::<Vec<_>>());
    assert_eq!(recs.len(), 6, "five records and the other tenant's");
}

#[test]
fn out_of_sequence_leaves_the_number_free() {
    let w = Walld::start();
    let mut p = Producer::options().tenant(5).open(&w.sock).expect("open");
    p.append(0, 0, b"one").expect("append");
    let pid = p.producer_id();
    drop(p);

    let mut q = Producer::options()
        .producer_id(pid)
        .tenant(5)
        .next_seq(40)
        .open(&w.sock)
        .expect("open");
    let e = q.append(0, 0, b"a gap").expect_err("number 40 after 1");
    assert!(matches!(e, Error::Sequence(_)), "{:?}", e);
    assert_eq!(e.code(), Some(15));
    assert!(e.to_string().contains("nothing was written"), "{}", e);
    assert_eq!(q.next_seq(), 40);
    assert!(!q.is_pending());
    assert_eq!(q.retries(), 0);
    drop(q);

    let mut r = Producer::options()
        .producer_id(pid)
        .tenant(5)
        .next_seq(2)
        .open(&w.sock)
        .expect("open");
    r.append(0, 0, b"two").expect("append number 2");
    assert_eq!(r.next_seq(), 3);
    drop(r);
    let log: Vec<Vec<u8>> = payloads(&w, 0).into_iter().map(|(_, p)| p).collect();
    assert_eq!(log, [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn definite_refusal_leaves_the_number_free() {
    let w = Walld::start();
    let mut p = Producer::open(&w.sock).expect("open");
    let first = p.append(1, 0, b"before the seal").expect("append");
    w.client().seal().expect("seal");
    let e = p.append(1, 0, b"after the seal").expect_err("sealed");
    assert!(matches!(e, Error::Sealed(_)), "{:?}", e);
    assert_eq!(p.next_seq(), 2);
    assert!(!p.is_pending());
    let pid = p.producer_id();
    drop(p);

    // A retry of a record in the log is answered even when sealed.
    let mut q = Producer::options()
        .producer_id(pid)
        .open(&w.sock)
        .expect("open");
    assert_eq!(q.append(1, 0, b"before the seal").expect("retry"), first);
    assert_eq!(q.next_seq(), 2);
    drop(q);

    let e = Producer::options()
        .producer_id(0)
        .open(&w.sock)
        .unwrap_err();
    assert!(matches!(e, Error::BadRequest(_)), "{:?}", e);

    // Too large: refused before sending, the number stays free.
    let max = w.client().max_record() as usize;
    let mut big = Producer::open(&w.sock).expect("open");
    let e = big
        .append(0, 0, &vec![b'x'; max + 1])
        .expect_err("too large");
    assert!(matches!(e, Error::TooLarge(_)), "{:?}", e);
    assert_eq!(big.next_seq(), 1);
    assert!(!big.is_pending());

    let log: Vec<Vec<u8>> = payloads(&w, 0).into_iter().map(|(_, p)| p).collect();
    assert_eq!(log, [b"before the seal".to_vec()]);
}

#[test]
fn walld_killed_and_restarted_mid_stream_writes_each_record_once() {
    let mut w = Walld::start();
    let n = 3000;
    let mut p = Producer::options()
        .tenant(9)
        .retry_for(Some(Duration::from_secs(60)))
        .timeout(Some(Duration::from_secs(10)))
        .open(&w.sock)
        .expect("open");
    // Records appended so far, and whether the thread has ended.
    let done = Arc::new((AtomicUsize::new(0), AtomicBool::new(false)));
    let done2 = Arc::clone(&done);
    let t = thread::spawn(move || {
        let mut got = Vec::with_capacity(n);
        let mut err = None;
        for i in 0..n {
            match p.append(0, 0, format!("record {:06}", i).as_bytes()) {
                Ok(lsn) => got.push(lsn),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
            done2.0.store(i + 1, Ordering::Release);
        }
        done2.1.store(true, Ordering::Release);
        (p, got, err)
    });
    for kill in 0..3 {
        // Wait for appends to flow, then kill walld with some in flight.
        let mark = done.0.load(Ordering::Acquire);
        let end = Instant::now() + Duration::from_secs(20);
        while done.0.load(Ordering::Acquire) < mark + 200 && !done.1.load(Ordering::Acquire) {
            assert!(
                Instant::now() < end,
                "appends stopped flowing (kill {})",
                kill
            );
            thread::sleep(Duration::from_millis(5));
        }
        kill_9(&mut w);
        thread::sleep(Duration::from_millis(200)); // the producer retries meanwhile
        w.launch();
    }
    let (p, got, err) = t.join().expect("the producer's thread");
    assert!(err.is_none(), "the producer failed: {:?}", err);
    assert_eq!(got.len(), n);
    assert!(p.retries() >= 3, "retries: {}", p.retries());
    assert!(!p.is_pending());
    drop(p);
    let log = payloads(&w, 0);
    // Each record once, in order, at the LSN its append returned: nothing
    // duplicated by the resends, nothing lost.
    let want: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("record {:06}", i).into_bytes())
        .collect();
    let pls: Vec<Vec<u8>> = log.iter().map(|(_, p)| p.clone()).collect();
    if pls != want {
        let mut seen = HashMap::new();
        for p in &pls {
            *seen.entry(p).or_insert(0) += 1;
        }
        let dups = seen.values().filter(|&&c| c > 1).count();
        panic!(
            "the log holds {} records for {} appends, {} of them more than once",
            pls.len(),
            n,
            dups
        );
    }
    let lsns: Vec<u64> = log.iter().map(|(l, _)| *l).collect();
    assert_eq!(lsns, got);
}

#[test]
fn given_up_then_resumed() {
    let mut w = Walld::start();
    let mut p = Producer::options()
        .retry_for(Some(Duration::from_millis(500)))
        .open(&w.sock)
        .expect("open");
    let first = p.append(0, 0, b"first").expect("append");
    kill_9(&mut w); // walld is down
    let e = p.append(0, 0, b"second").expect_err("walld is down");
    assert!(matches!(e, Error::OutcomeUnknown(_)), "{:?}", e);
    assert!(e.to_string().contains("not settled"), "{}", e);
    assert!(p.is_pending());
    assert_eq!(p.next_seq(), 2);
    assert!(p.retries() >= 1);
    let e = p.append(0, 0, b"third").expect_err("pending");
    assert!(matches!(e, Error::ProducerPending(_)), "{:?}", e);
    assert_eq!(p.next_seq(), 2);

    w.launch();
    let second = p.resume().expect("resume").expect("the pending LSN");
    assert!(second > first);
    assert!(!p.is_pending());
    assert_eq!(p.resume().expect("resume with nothing pending"), None);
    let third = p.append(0, 0, b"third").expect("append");
    assert_eq!(third, second + 1);
    assert_eq!(p.next_seq(), 4);
    drop(p);
    let log: Vec<Vec<u8>> = payloads(&w, 0).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        log,
        [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
}
