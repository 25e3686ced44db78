"""A real SMTP server for tests that need to see the e-mail the app sends: a separate process
(`python -m tests.smtp_sink --port N --out DIR`) that accepts every message over plain SMTP on
loopback and writes each one, as received, to DIR/<n>.eml. No relay, no TLS, no auth.

`SmtpSink` starts it on a free port, reads what arrived and stops it (tests/processes.py's
pattern: the test owns the process).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SINK = (sys.executable, "-m", "tests.smtp_sink")


class _Session(socketserver.StreamRequestHandler):
    """One SMTP conversation (RFC 5321's minimum: HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP,
    QUIT), each message saved at the end of its DATA."""

    out: Path
    numbers = itertools.count(1)
    lock = threading.Lock()

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 smtp-sink ready")
        while raw := self.rfile.readline(65536):
            command = raw.decode("latin-1").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 smtp-sink")
            elif command.startswith(("MAIL FROM", "RCPT TO", "RSET", "NOOP")):
                self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.save(self.read_data())
                self.reply("250 OK: saved")
            elif command == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline(65536)) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)  # dot-unstuffing
        return b"".join(lines)

    def save(self, message: bytes) -> None:
        with self.lock:
            number = next(self.numbers)
        partial = self.out / f"{number}.part"
        partial.write_bytes(message)
        partial.rename(self.out / f"{number}.eml")  # whole messages only, for the reader


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(port: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _Session.out = out
    with _Server(("127.0.0.1", port), _Session) as server:
        server.serve_forever()


@dataclass
class SmtpSink:
    """The sink as a process a test starts and stops; `messages()` are what it received."""

    out: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from tests.processes import _wait, free_port

        self.port = self.port or free_port()
        log_path = self.out.with_suffix(".log")
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*SINK, "--port", str(self.port), "--out", str(self.out)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait(self.answers, what=f"the SMTP sink on port {self.port}", log=log_path)

    def answers(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                return sock.recv(64).startswith(b"220")
        except OSError:
            return False

    def messages(self) -> list[EmailMessage]:
        found = sorted(self.out.glob("*.eml"), key=lambda p: int(p.stem))
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in found
        ]

    def wait_for(self, count: int, seconds: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while len(found := self.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SMTP sink got {len(found)} messages, not {count}")
            time.sleep(0.05)
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args()
    serve(arguments.port, arguments.out)
