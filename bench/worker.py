"""One real Celery worker (`celery -A config worker --concurrency=1`) as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent


class Worker:
    """Started with its own environment (chunk size, broker), stopped by its own pid only."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.env = env
        self.hostname = f"{name}-{os.getpid()}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.gettempdir()) / f"{name}-{os.getpid()}.log"

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> float:
        """Start the worker and wait until it answers a ping; returns the seconds it took."""
        from config.celery import app

        celery = Path(sys.executable).parent / "celery"
        started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own venv's celery, fixed args)
                [
                    str(celery),
                    "-A",
                    "config",
                    "worker",
                    "--concurrency=1",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--hostname",
                    self.hostname,
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited at start-up; see {self.log}")
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return time.perf_counter() - started
        self.stop()
        raise RuntimeError(f"the worker did not answer within {timeout} s; see {self.log}")

    def task_lines(self, task: str) -> list[str]:
        """The worker log's lines of finished `task`s (succeeded or raised), in order."""
        if not self.log.exists():
            return []
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if f"{task}[" in line and (" succeeded in " in line or " raised " in line)
        ]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Warm shutdown (SIGTERM to the pid we started), then SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
