# SPDX-License-Identifier: Apache-2.0
"""Fixtures: a real walld on a private socket in a temporary directory.

The walld binary is $WALD_BUILD/walld (default: build/ at the top of the
repository). Temporary directories go under $WALLD_PY_TMP (default: the
system's); the PID of every walld started is appended to
$WALLD_PY_PIDS when set, so that the runner script can kill what a killed
pytest left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
TOP = Path(os.environ.get("WALD_TOP") or HERE.parent.parent)
BUILD = Path(os.environ.get("WALD_BUILD") or TOP / "build")
WALLD = BUILD / "walld"

# Run from a checkout: the package next to the tests, unless installed.
try:
    import walld  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE.parent))
    import walld  # noqa: F401


class Walld:
    """One walld process on its own socket and data directory."""

    def __init__(self, top: Path, name: str, config: str | None = None,
                 env: dict[str, str] | None = None,
                 data_dir: Path | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=top))
        self.sock = str(self.dir / "walld.sock")
        self.data = data_dir or self.dir / "data"
        self.log = self.dir / "walld.log"
        self.config = config
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The PID of the running walld."""
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> "Walld":
        """Starts walld and waits (up to 10 s) until it answers a ping."""
        # --allow-root: the tests may run as root, which walld refuses
        # without it (for any other user the flag changes nothing).
        argv = [str(WALLD), "--allow-root", "--socket", self.sock,
                "--data-dir", str(self.data)]
        if self.config is not None:
            cfg = self.dir / "walld.yaml"
            cfg.write_text(self.config)
            argv += ["--config", str(cfg)]
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
        pids = os.environ.get("WALLD_PY_PIDS")
        if pids:
            with open(pids, "a") as f:
                f.write(f"{self.proc.pid}\n")
        end = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"walld exited at start-up "
                            f"({self.proc.returncode}):\n{self.tail()}")
            try:
                with walld.Client(self.sock, connect_timeout=1,
                                  timeout=1) as c:
                    c.ping()
                return self
            except walld.WalldError:
                if time.monotonic() > end:
                    pytest.fail(f"walld did not answer within 10 s:\n"
                                f"{self.tail()}")
                time.sleep(0.05)

    def client(self, **kw: object) -> walld.Client:
        """A blocking client of this walld (a 20 s timeout by default)."""
        kw.setdefault("timeout", 20.0)
        return walld.Client(self.sock, **kw)  # type: ignore[arg-type]

    async def aclient(self, **kw: object) -> walld.AsyncClient:
        """An asyncio client of this walld (a 20 s timeout by default)."""
        kw.setdefault("timeout", 20.0)
        return await walld.AsyncClient.connect(self.sock, **kw)  # type: ignore[arg-type]

    def signal(self, sig: int) -> None:
        """Sends a signal to walld, by PID."""
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 10) -> int:
        """Waits for walld to exit; returns its exit status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Kills walld (SIGKILL by PID) if it still runs, and reaps it."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def tail(self, n: int = 30) -> str:
        """The last lines of walld's log."""
        try:
            return "\n".join(self.log.read_text().splitlines()[-n:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def tmp_top() -> Iterator[Path]:
    """A private temporary directory for the whole run."""
    if not os.access(WALLD, os.X_OK):
        pytest.fail(f"no walld at {WALLD}: build it (make) or set WALD_BUILD")
    base = os.environ.get("WALLD_PY_TMP") or None
    top = Path(tempfile.mkdtemp(prefix="walld-py.", dir=base))
    top.chmod(0o711)
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session")
def server(tmp_top: Path) -> Iterator[Walld]:
    """A walld shared by the tests that neither seal nor truncate."""
    w = Walld(tmp_top, "shared").start()
    yield w
    w.stop()


@pytest.fixture
def make_walld(tmp_top: Path) -> Iterator[object]:
    """A factory of private walld processes, killed after the test:
    ``make_walld(config=..., env=...)``."""
    started: list[Walld] = []

    def make(config: str | None = None, env: dict[str, str] | None = None,
             data_dir: Path | None = None, start: bool = True) -> Walld:
        w = Walld(tmp_top, "private", config, env, data_dir)
        started.append(w)
        return w.start() if start else w

    yield make
    for w in started:
        w.stop()
