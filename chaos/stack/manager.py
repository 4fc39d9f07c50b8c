"""Bring the native stack up, down, and report on it."""

from __future__ import annotations

import contextlib
import errno
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from chaos.errors import PortInUseError, ServiceStartError
from chaos.settings import StackSettings
from chaos.stack import process
from chaos.stack.process import ProcessRecord
from chaos.stack.service import NotReady, Service
from chaos.stack.services import services as default_services

READY_POLL_S = 0.1
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class ServiceState:
    """One service as `up` and `status` report it."""

    name: str
    running: bool
    healthy: bool
    address: str
    pid: int | None = None
    detail: str = ""
    ready_after_s: float | None = None
    started: bool = False


Progress = Callable[[str], None]


def _port_taken(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a log file ('' if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


class Stack:
    """The native stack of one state folder."""

    def __init__(
        self,
        settings: StackSettings,
        services: list[Service] | None = None,
        progress: Progress = lambda _msg: None,
    ) -> None:
        self.settings = settings
        self.services = services if services is not None else default_services(settings)
        self.progress = progress
        self.state = settings.state_path

    def log_file(self, name: str) -> Path:
        """Return the log file of a service."""
        return self.state / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        """Return the pid file of a service."""
        return self.state / "run" / f"{name}.pid"

    def service(self, name: str) -> Service:
        """Return a service by name, or raise KeyError listing the names."""
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(f"unknown service {name!r}; services: {', '.join(self.names())}")

    def names(self) -> list[str]:
        """Return the names of every service, in start order."""
        return [s.name for s in self.services]

    def running(self, svc: Service) -> ProcessRecord | None:
        """Return the record of a running service; clear a stale pid file on the way."""
        pid_file = self.pid_file(svc.name)
        record = process.read_pid_file(pid_file)
        if record is not None and process.is_alive(record):
            return record
        if pid_file.exists():
            self.progress(f"{svc.name}: removed stale pid file (process gone)")
            pid_file.unlink(missing_ok=True)
        return None

    def up(self) -> list[ServiceState]:
        """Start every service not running yet, stage by stage, and wait until each answers."""
        for folder in ("logs", "run"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)  # PostgreSQL runs as another user and must reach its folder
        self._ensure_admin_token()
        running = {s.name: self.running(s) for s in self.services}
        self._check_ports([s for s in self.services if running[s.name] is None])
        if not any(running[s.name] for s in self.services if s.stage > 0):
            self._fresh_metrics_dir()

        states: list[ServiceState] = []
        started: list[Service] = []
        try:
            for _stage, group in groupby(self.services, key=lambda s: s.stage):
                members = list(group)
                launched: dict[str, tuple[ProcessRecord, float]] = {}
                for svc in members:
                    if running[svc.name] is None:
                        if svc.prepare:
                            svc.prepare(self.settings)
                        launched[svc.name] = (self._spawn(svc), time.monotonic())
                        started.append(svc)
                for svc in members:
                    states.append(self._await_ready(svc, running[svc.name], launched))
                for svc in members:
                    if svc.after_ready:
                        svc.after_ready(self.settings)
        except BaseException:
            self._stop_all(started)
            raise
        return states

    def down(self) -> list[str]:
        """Stop every service this state folder started, last stage first; return their names."""
        stopped: list[str] = []
        stages = groupby(sorted(self.services, key=lambda s: -s.stage), key=lambda s: s.stage)
        for _stage, group in stages:
            stopped += self._stop_all(list(group))
        return stopped

    def status(self) -> list[ServiceState]:
        """Report each service: running, healthy, and if not, why."""
        states = []
        for svc in self.services:
            record = self.running(svc)
            if record is None:
                states.append(ServiceState(svc.name, False, False, svc.address(self.settings)))
                continue
            detail = ""
            try:
                svc.ready(self.settings, record.pid)
            except NotReady as exc:
                detail = str(exc)
            states.append(
                ServiceState(
                    svc.name, True, not detail, svc.address(self.settings), record.pid, detail
                )
            )
        return states

    def _spawn(self, svc: Service) -> ProcessRecord:
        self.progress(f"{svc.name}: starting")
        return process.spawn(
            svc.argv(self.settings),
            pid_file=self.pid_file(svc.name),
            log_file=self.log_file(svc.name),
            env=self.settings.child_env(),
            run_as=svc.run_as(),
        )

    def _await_ready(
        self,
        svc: Service,
        already: ProcessRecord | None,
        launched: dict[str, tuple[ProcessRecord, float]],
    ) -> ServiceState:
        address = svc.address(self.settings)
        if already is not None:
            return ServiceState(svc.name, True, True, address, already.pid, "already running")
        record, launched_at = launched[svc.name]
        deadline = launched_at + self.settings.start_timeout_s
        last = "not checked yet"
        while time.monotonic() < deadline:
            if not process.is_alive(record):
                raise ServiceStartError(self._failure(svc, process.exit_status(record)))
            try:
                svc.ready(self.settings, record.pid)
            except NotReady as exc:
                last = str(exc)
                time.sleep(READY_POLL_S)
                continue
            took = time.monotonic() - launched_at
            self.progress(f"{svc.name}: ready in {took:.1f}s at {address}")
            return ServiceState(
                svc.name, True, True, address, record.pid, ready_after_s=took, started=True
            )
        raise ServiceStartError(
            self._failure(svc, f"not ready after {self.settings.start_timeout_s:.0f}s ({last})")
        )

    def _failure(self, svc: Service, what: str) -> str:
        log = self.log_file(svc.name)
        return f"{svc.name}: {what}. Last lines of {log}:\n{tail(log)}"

    def _stop_all(self, members: list[Service]) -> list[str]:
        """Signal every running member at once, then wait for each."""
        running = [(svc, rec) for svc in members if (rec := self.running(svc)) is not None]
        for svc, record in running:
            self.progress(f"{svc.name}: stopping (pid {record.pid})")
            process.send(record, svc.stop_signal)
        for svc, record in running:
            if process.await_exit(record, timeout_s=self.settings.stop_timeout_s):
                self.progress(f"{svc.name}: did not stop in time, killed")
            self.pid_file(svc.name).unlink(missing_ok=True)
        return [svc.name for svc, _ in running]

    def _check_ports(self, to_start: list[Service]) -> None:
        for svc in to_start:
            if svc.port and _port_taken(self.settings.host, svc.port(self.settings)):
                raise PortInUseError(
                    service=svc.name,
                    port=svc.port(self.settings),
                    setting=svc.port_setting or "its port setting",
                )

    def _fresh_metrics_dir(self) -> None:
        metrics = self.state / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)

    def _ensure_admin_token(self) -> None:
        token_file = self.state / "admin-token"
        if not token_file.exists():
            token_file.write_text(secrets.token_urlsafe(24) + "\n")
            token_file.chmod(0o600)


@contextlib.contextmanager
def running_stack(settings: StackSettings, progress: Progress = lambda _m: None) -> Iterator[Stack]:
    """Bring a stack up for the duration of a block, and down afterwards."""
    stack = Stack(settings, progress=progress)
    stack.up()
    try:
        yield stack
    finally:
        stack.down()
