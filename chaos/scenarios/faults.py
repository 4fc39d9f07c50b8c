"""Apply and revert a scenario's faults on the running stack, one kind at a time.

- Toxic: added to its proxy through the Toxiproxy API, removed by name.
- Switch: set through the shop's admin API; reverted to off (every switch's default),
  straight in the switch file when the native shop does not answer.
- Setting: set through the admin API; reverted by dropping the override (back
  to the environment's value), straight in the settings file when the native shop
  is down. (The compose shop's files live in its Docker volume: no fallback there.)
- ProcessFault: pause / continue a service's whole process tree; a killed or
  terminated service is started again by the stack manager.
- Reload: a graceful reload of a service after rollback (nothing to revert).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import TypeAdapter

from chaos.admin_client import AdminClient
from chaos.errors import AdminApiError, StackError
from chaos.scenarios import processes
from chaos.scenarios.model import ProcessFault, Reload, Setting, Switch, Toxic
from chaos.scenarios.processes import ProcessFaultError
from chaos.stack.manager import Stack
from chaos.stack.process import ProcessRecord
from chaos.toxiproxy import NotFoundError, ToxiproxyClient
from target_app.config import load_settings as load_shop_settings
from target_app.runtime_settings import RuntimeSettings
from target_app.switches import SwitchBoard

Step = Toxic | Switch | Setting | ProcessFault | Reload
STEP = TypeAdapter(Step)
Result = TypeVar("Result")


def step_from_dict(data: dict[str, Any]) -> Step:
    """Read a step back from its JSON form (`step.model_dump(mode="json")`)."""
    return STEP.validate_python(data)


class Injector:
    """Applies and reverts steps on one stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        shop = load_shop_settings({"state_dir": stack.settings.state_path})
        self.admin = AdminClient(stack.settings.app_url, shop.resolved_admin_token())
        self.toxiproxy = ToxiproxyClient(stack.settings.toxiproxy_api_url)
        self.switches_file = shop.switches_file
        self.settings_file = shop.runtime_settings_file
        # The compose shop keeps its switch and settings files in a Docker volume:
        # this machine's copies are not the ones it reads.
        self.files_are_the_shops = stack.settings.target == "native"

    def switches_on(self) -> list[str]:
        """Return the bug switches that are on, as the shop (else its switch file) says."""
        states, _ = self._through_shop(
            "read the switches",
            lambda: {s["name"]: s["on"] for s in self.admin.switches()},
            lambda: SwitchBoard(self.switches_file).states(),
        )
        return [name for name, on in states.items() if on]

    def settings_overridden(self) -> dict[str, Any]:
        """Return the runtime settings changed from their defaults, as the shop (else its file) says."""
        overridden, _ = self._through_shop(
            "read the runtime settings",
            lambda: {s["name"]: s["value"] for s in self.admin.settings() if s["overridden"]},
            lambda: RuntimeSettings(self.settings_file).overrides(),
        )
        return overridden

    def _through_shop(
        self, what: str, api: Callable[[], Result], files: Callable[[], Result]
    ) -> tuple[Result, bool]:
        """Return `api()`, or `files()` when the shop does not answer; and whether it was the files.

        The files are the native shop's own (every process of it reads them); the compose
        shop's are in its Docker volume, so against compose there is no fallback.
        """
        try:
            return api(), False
        except AdminApiError:
            if not self.files_are_the_shops:
                raise AdminApiError(
                    f"the compose shop does not answer, and its files are in its Docker volume: "
                    f"cannot {what}; start the shop (`make compose-up`) and try again"
                ) from None
            return files(), True

    def apply(self, step: Step) -> str:
        """Apply one step; return what was done, in words."""
        appliers: dict[type, Callable[[Any], str]] = {
            Toxic: self._add_toxic,
            Switch: self._set_switch,
            Setting: self._set_setting,
            ProcessFault: self._signal_process,
            Reload: self._reload,
        }
        return appliers[type(step)](step)

    def revert(self, step: Step) -> str:
        """Undo one step (idempotent: reverting what is not there is fine); return what was done."""
        if isinstance(step, Toxic):
            try:
                self.toxiproxy.remove_toxic(step.proxy, step.toxic_name)
            except NotFoundError:
                return f"toxic {step.toxic_name} on {step.proxy} was already gone"
            return f"removed toxic {step.toxic_name} from {step.proxy}"
        if isinstance(step, Switch):
            return self.switch_off(step.name)
        if isinstance(step, Setting):
            return self.reset_setting(step.name)
        if isinstance(step, ProcessFault):
            return self._restore_process(step)
        return f"nothing to undo for a reload of {step.service}"

    # ------------------------------------------------------------ each kind

    def _add_toxic(self, step: Toxic) -> str:
        self.toxiproxy.add_toxic(
            step.proxy,
            step.type,
            attributes=dict(step.attributes),
            stream=step.stream,
            toxicity=step.toxicity,
            name=step.toxic_name,
        )
        return f"added {step.describe()} as {step.toxic_name}"

    def _set_switch(self, step: Switch) -> str:
        self.admin.set_switch(step.name, step.value)
        return step.describe()

    def switch_off(self, name: str) -> str:
        """Turn a bug switch off, through the shop or, if it does not answer, in its file."""
        _, by_file = self._through_shop(
            f"turn {name} off",
            lambda: self.admin.set_switch(name, False),
            lambda: SwitchBoard(self.switches_file).set(name, False),
        )
        note = f" (shop not reachable: set in {self.switches_file})" if by_file else ""
        return f"switch {name} off{note}"

    def reset_switches(self) -> str:
        """Turn every bug switch off, through the shop or, if it does not answer, in its file."""
        _, by_file = self._through_shop(
            "turn the switches off",
            self.admin.reset_switches,
            lambda: SwitchBoard(self.switches_file).reset(),
        )
        note = f" (shop not reachable: reset {self.switches_file})" if by_file else ""
        return f"every bug off{note}"

    def _set_setting(self, step: Setting) -> str:
        self.admin.set_setting(step.name, step.value)
        return step.describe()

    def reset_setting(self, name: str | None = None) -> str:
        """Drop a runtime setting (every one if None): through the shop, else in its file."""
        what = f"setting {name}" if name else "every runtime setting"
        _, by_file = self._through_shop(
            f"reset {what}",
            self.admin.reset_settings if name is None else lambda: self.admin.reset_setting(name),
            lambda: RuntimeSettings(self.settings_file).reset(name),
        )
        note = f" (shop not reachable: reset {self.settings_file})" if by_file else ""
        return f"{what} back to its default{note}"

    def _record(self, service: str) -> ProcessRecord:
        record = self.stack.running(service)
        if record is None:
            raise ProcessFaultError(f"service {service} does not run; cannot signal it")
        return record

    def _signal_process(self, step: ProcessFault) -> str:
        record = self._record(step.service)
        if step.action == "pause":
            count = processes.pause(record)
            return f"paused {step.service}: {count} processes stopped (SIGSTOP)"
        if step.action == "kill":
            # The whole tree: a PostgreSQL backend left running would keep the new server out.
            count = processes.signal_tree(record, signal.SIGKILL)
            return f"killed {step.service}: SIGKILL to {count} processes"
        os.kill(record.pid, signal.SIGTERM)  # the service's own shutdown, as a deploy would
        return f"sent SIGTERM to {step.service} (pid {record.pid})"

    def _restore_process(self, step: ProcessFault) -> str:
        if step.action == "pause":
            return self.resume(step.service)
        # A killed or terminated service: the stack manager starts what is not running.
        self.stack.up()
        return f"{step.service} running again"

    def resume(self, service: str) -> str:
        """Continue a service's whole process tree (SIGCONT)."""
        record = self.stack.running(service)
        if record is None:
            return f"{service} does not run: nothing to continue"
        count = processes.resume(record)
        return f"continued {service}: SIGCONT to {count} processes"

    def _reload(self, step: Reload) -> str:
        try:
            state = self.stack.reload(step.service)
        except StackError as exc:  # not running (nothing to reload), or not reloadable here
            return f"{step.service} not reloaded: {exc}"
        return f"reloaded {step.service} gracefully in {state.ready_after_s}s"
