//! The example of rust/README.md (tests/readme.rs checks they are the
//! same): run it with $WALLD_SOCKET naming a walld's socket.
use walld_client::{Client, Filter};

fn main() -> walld_client::Result<()> {
    // $WALLD_SOCKET, else /run/walld/walld.sock.
    let wal = Client::from_env()?;

    // WalWriter::append then sync, in one: the LSN of a durable record.
    let first = wal.append(1, 42, 3, b"first record")?;
    println!("appended LSN {}", first);

    // Append-then-sync: LSNs at once, all durable when sync returns.
    let a = wal.append_nowait(1, 42, 3, b"second")?;
    let b = wal.append_nowait(2, 42, 3, &[0, 159, 146, 150])?;
    let durable = wal.sync()?;
    assert!(a < b && b <= durable);

    // Pipelined: every append is sent before the first reply is awaited.
    let lsns = wal.append_many((0..1000u32).map(|i| (1, 7, 0, i.to_le_bytes())))?;
    println!("pipelined {} records up to LSN {}", lsns.len(), lsns[999]);

    // Tenant 42's records, from the first one on.
    for rec in wal.read(first, Filter::all().tenant(42))? {
        let rec = rec?;
        println!("LSN {} type {}: {:?}", rec.lsn, rec.record_type, rec.payload);
    }

    let stats = wal.stats()?;
    println!("durable LSN {}, next LSN {}", stats.durable_lsn, stats.next_lsn);
    Ok(())
}
