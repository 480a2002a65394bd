// SPDX-License-Identifier: Apache-2.0
//! The test harness: a real walld on a private socket in a temporary
//! directory, one per test, killed by its PID when the test ends (also
//! when it panics: `Drop`).
//!
//! The walld binary is `$WALD_BUILD/walld` (tests/run.sh sets
//! WALD_BUILD), else `../build/walld` beside this crate.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use walld_client::Client;

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn getuid() -> u32;
}

/// Signals, as numbered on Linux.
pub const SIGKILL: i32 = 9;
/// Terminate: walld stops in order.
pub const SIGTERM: i32 = 15;
/// Continue a stopped process.
pub const SIGCONT: i32 = 18;
/// Stop a process (it answers nothing until SIGCONT).
pub const SIGSTOP: i32 = 19;

/// True when the tests run as root.
pub fn is_root() -> bool {
    unsafe { getuid() == 0 }
}

/// The build directory holding walld.
pub fn build_dir() -> PathBuf {
    match std::env::var_os("WALD_BUILD") {
        Some(b) if !b.is_empty() => PathBuf::from(b),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../build"),
    }
}

static SERIAL: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system's temporary directory, mode 0755 so
/// that other users can reach the socket in it.
fn temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "walld-rust.{}.{}.{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed),
        nanos
    ));
    fs::create_dir(&dir).expect("create the test directory");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod the test directory");
    dir
}

/// One walld of a test.
pub struct Walld {
    /// The private directory: socket, data, configuration, log.
    pub dir: PathBuf,
    /// The socket walld listens on.
    pub sock: PathBuf,
    child: Option<Child>,
    config: PathBuf,
}

impl Walld {
    /// Starts walld with the test configuration.
    pub fn start() -> Walld {
        Walld::start_with("")
    }

    /// Starts walld with the test configuration plus `extra` (YAML
    /// sections other than socket and storage, e.g. `limits:` or
    /// `access:`), and waits until it answers a ping.
    pub fn start_with(extra: &str) -> Walld {
        let dir = temp_dir();
        let sock = dir.join("walld.sock");
        let config = dir.join("walld.yaml");
        let yaml = format!(
            "socket:\n  path: {}\n  mode: \"0666\"\nstorage:\n  data_dir: {}\n  \
             segment_size: 1MiB\n  recycle_segments: 0\n{}",
            sock.display(),
            dir.join("data").display(),
            extra
        );
        fs::write(&config, yaml).expect("write walld.yaml");
        let mut w = Walld {
            dir,
            sock,
            child: None,
            config,
        };
        w.launch();
        w
    }

    /// Starts (again) the walld process and waits until it is ready.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "walld is running already");
        let walld = build_dir().join("walld");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("walld.log"))
            .expect("open walld.log");
        // Tests may run as root: walld refuses it without --allow-root
        // (a no-op for any other user).
        let child = Command::new(&walld)
            .arg("--allow-root")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup walld.log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {}", walld.display(), e));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(c) = Client::connect_timeout(&self.sock, Duration::from_secs(2)) {
                if c.ping().is_ok() {
                    return;
                }
            }
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("walld exited at start-up ({}):\n{}", st, self.log());
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("walld did not answer within 10 s:\n{}", self.log());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A new client connected to this walld (5 s timeout).
    pub fn client(&self) -> Client {
        let c = Client::connect_timeout(&self.sock, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect: {}\n{}", e, self.log()));
        c
    }

    /// A new client for protocol version 2 (cursors), 5 s timeout.
    pub fn client_v2(&self) -> Client {
        Client::options()
            .protocol(2)
            .timeout(Some(Duration::from_secs(5)))
            .connect(&self.sock)
            .unwrap_or_else(|e| panic!("connect for version 2: {}\n{}", e, self.log()))
    }

    /// walld's PID.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("walld is not running").id() as i32
    }

    /// Sends `sig` to walld.
    pub fn signal(&self, sig: i32) {
        let rc = unsafe { kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {})", self.pid(), sig);
    }

    /// Waits (up to 10 s) for walld to exit after a signal; its status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("walld is not running");
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("wait for walld") {
                return st;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("walld did not exit within 10 s:\n{}", self.log());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// walld's output so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(self.dir.join("walld.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Walld {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL, by PID
            let _ = c.wait();
        }
        if thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- walld log (last 30 lines):");
            for l in tail.iter().rev() {
                eprintln!("{}", l);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
