"""Bring the native stack up, down, and report on it."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from chaos.errors import ServiceStartError, StackError
from chaos.settings import StackSettings
from chaos.stack import process
from chaos.stack.port_check import check_ports_free
from chaos.stack.process import ProcessRecord
from chaos.stack.service import NotReady, Service, ServiceState
from chaos.stack.services import services as default_services
from chaos.stack.state_dir import fresh_metrics_dir, locked, prepare_state_dir, tail

READY_POLL_S = 0.1
EXTERNAL_PID = 0

Progress = Callable[[str], None]


class Stack:
    """The native stack of one state folder."""

    def __init__(
        self,
        settings: StackSettings,
        services: list[Service] | None = None,
        progress: Progress = lambda _msg: None,
    ) -> None:
        self.settings = settings
        declared = services if services is not None else default_services(settings)
        self.services = sorted(declared, key=lambda s: s.stage)  # stable: keeps declared order
        self.progress = progress
        self.state = settings.state_path

    def log_file(self, name: str) -> Path:
        """Return the log file of a service."""
        return self.state / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        """Return the pid file of a service."""
        return self.state / "run" / f"{name}.pid"

    def names(self) -> list[str]:
        """Return the names of every service, in start order."""
        return [s.name for s in self.services]

    def running(self, name: str) -> ProcessRecord | None:
        """Return the record of a running service; clear a stale pid file on the way."""
        pid_file = self.pid_file(name)
        record = process.read_pid_file(pid_file)
        if record is not None and process.is_alive(record):
            return record
        if record is not None:
            self.progress(f"{name}: removed stale pid file (process {record.pid} is gone)")
            process.sweep_group(record)
            pid_file.unlink(missing_ok=True)
        return None

    def up(self) -> list[ServiceState]:
        """Start every service not running yet, stage by stage, and wait until each answers."""
        prepare_state_dir(self.state)
        with locked(self.state):
            running = {s.name: self.running(s.name) for s in self.services}
            to_start = [s for s in self.services if s.argv and running[s.name] is None]
            check_ports_free(self.settings, to_start)
            if not any(running[s.name] for s in self.services if s.stage > 0):
                fresh_metrics_dir(self.state)
            states: list[ServiceState] = []
            started: list[Service] = []
            try:
                for _stage, group in groupby(self.services, key=lambda s: s.stage):
                    members = list(group)
                    launched: dict[str, tuple[ProcessRecord, float]] = {}
                    for svc in members:
                        if svc in to_start:
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
        """Stop every process this state folder started, last stage first; return their names.

        Pid files of services the current settings do not declare (say, a third
        worker started with other settings) are stopped too, first.
        """
        with locked(self.state):
            stopped = self._stop_undeclared()
            stages = groupby(reversed(self.services), key=lambda s: s.stage)
            for _stage, group in stages:
                stopped += self._stop_all(list(group))
            return stopped

    def reload(self, name: str) -> ServiceState:
        """Restart a service gracefully with its reload signal; wait until its old children left.

        gunicorn, on SIGHUP, starts new workers, then retires the old ones once
        their requests are done: whatever an old worker held (pooled connections
        leaked by a bug, caches) goes with it, while the shop keeps answering.
        """
        svc = next((s for s in self.services if s.name == name), None)
        if svc is None or svc.reload_signal is None:
            reloadable = [s.name for s in self.services if s.reload_signal is not None]
            what = "unknown service" if svc is None else "cannot reload service"
            raise StackError(f"{what} {name!r}; reloadable: {', '.join(reloadable) or '(none)'}")
        with locked(self.state):
            record = self.running(name)
            if record is None:
                raise StackError(f"{name} is not running; start the stack with `faultyard up`")
            old = {
                pid: process.start_ticks(pid)
                for pid in process.group_members(record)
                if pid != record.pid
            }
            self.progress(f"{name}: reloading (pid {record.pid}, {len(old)} processes to retire)")
            started = time.monotonic()
            process.send(record, svc.reload_signal)
            deadline = started + self.settings.stop_timeout_s + self.settings.start_timeout_s
            last = "old processes still running"
            while time.monotonic() < deadline:
                if not process.is_alive(record):
                    raise ServiceStartError(self._failure(svc, f"process {record.pid} exited"))
                if not any(process.start_ticks(pid) == t for pid, t in old.items() if t):
                    last = self._check(svc, record.pid)
                    if not last:
                        took = time.monotonic() - started
                        self.progress(f"{name}: reloaded in {took:.1f}s")
                        return ServiceState(
                            name,
                            True,
                            True,
                            svc.address(self.settings),
                            record.pid,
                            f"{len(old)} old processes retired",
                            ready_after_s=took,
                        )
                time.sleep(READY_POLL_S)
            raise StackError(self._failure(svc, f"reload not done in time ({last})"))

    def status(self) -> list[ServiceState]:
        """Report each service: running, healthy, and if not, why."""
        states = []
        for svc in self.services:
            record = self.running(svc.name) if svc.argv else None
            pid = record.pid if record else EXTERNAL_PID
            if svc.argv and record is None:
                states.append(ServiceState(svc.name, False, False, svc.address(self.settings)))
                continue
            detail = self._check(svc, pid)
            states.append(
                ServiceState(
                    svc.name,
                    True,
                    not detail,
                    svc.address(self.settings),
                    record and record.pid,
                    detail or ("" if record else "external"),
                )
            )
        return states

    def _check(self, svc: Service, pid: int) -> str:
        try:
            svc.ready(self.settings, pid)
        except NotReady as exc:
            return str(exc) or "not ready"
        return ""

    def _spawn(self, svc: Service) -> ProcessRecord:
        assert svc.argv is not None
        self.progress(f"{svc.name}: starting")
        return process.spawn(
            svc.argv(self.settings),
            pid_file=self.pid_file(svc.name),
            log_file=self.log_file(svc.name),
            env=self.settings.child_env(shop=svc.shop),
            run_as=svc.run_as(),
        )

    def _await_ready(
        self,
        svc: Service,
        already: ProcessRecord | None,
        launched: dict[str, tuple[ProcessRecord, float]],
    ) -> ServiceState:
        address = svc.address(self.settings)
        if svc.name not in launched:
            # Running already, or external: it must answer, not just exist. One that is
            # recovering from a fault (the relay backs off while Redis is cut) gets the time
            # a start would get.
            pid = already.pid if already else EXTERNAL_PID
            if already is not None and process.run_state(already.pid) == "T":
                raise ServiceStartError(
                    f"{svc.name} is paused (SIGSTOP): `faultyard resume {svc.name}` or "
                    "`faultyard reset` continues it"
                )
            deadline = time.monotonic() + self.settings.start_timeout_s
            detail = self._check(svc, pid)
            if detail:
                self.progress(f"{svc.name}: running but not healthy yet ({detail}); waiting")
            while detail and time.monotonic() < deadline:
                if already is not None and not process.is_alive(already):
                    raise ServiceStartError(self._failure(svc, f"process {pid} exited"))
                time.sleep(READY_POLL_S)
                detail = self._check(svc, pid)
            if detail:
                raise ServiceStartError(
                    f"{svc.name} is running but not healthy after "
                    f"{self.settings.start_timeout_s:.0f}s: {detail}"
                )
            note = "already running" if already else "external"
            return ServiceState(svc.name, True, True, address, already and already.pid, note)
        record, launched_at = launched[svc.name]
        deadline = launched_at + self.settings.start_timeout_s
        last = "not checked yet"
        while time.monotonic() < deadline:
            if not process.is_alive(record):
                raise ServiceStartError(self._failure(svc, f"process {record.pid} exited"))
            detail = self._check(svc, record.pid)
            if not detail:
                took = time.monotonic() - launched_at
                self.progress(f"{svc.name}: ready in {took:.1f}s at {address}")
                return ServiceState(
                    svc.name, True, True, address, record.pid, ready_after_s=took, started=True
                )
            last = detail
            time.sleep(READY_POLL_S)
        raise ServiceStartError(
            self._failure(svc, f"not ready after {self.settings.start_timeout_s:.0f}s ({last})")
        )

    def _failure(self, svc: Service, what: str) -> str:
        log = self.log_file(svc.name)
        return f"{svc.name}: {what}. Last lines of {log}:\n{tail(log)}"

    def _stop_all(self, members: list[Service]) -> list[str]:
        """Signal every running member at once, then wait for each."""
        return self._stop_records(
            [(svc.name, rec, svc.stop_signal) for svc in members if (rec := self.running(svc.name))]
        )

    def _stop_undeclared(self) -> list[str]:
        declared = set(self.names())
        extra = []
        for pid_file in sorted((self.state / "run").glob("*.pid")):
            name = pid_file.stem
            if name not in declared and (record := self.running(name)):
                extra.append((name, record, signal.SIGTERM))
        return self._stop_records(extra)

    def _stop_records(self, running: list[tuple[str, ProcessRecord, int]]) -> list[str]:
        for name, record, sig in running:
            self.progress(f"{name}: stopping (pid {record.pid})")
            process.send(record, sig)
        for name, record, _sig in running:
            if process.await_exit(record, timeout_s=self.settings.stop_timeout_s):
                self.progress(f"{name}: did not stop in time, killed")
            self.pid_file(name).unlink(missing_ok=True)
        return [name for name, _, _ in running]
