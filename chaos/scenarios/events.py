"""Events of a run that anyone may listen to, like Locust's `EventHook`.

    from chaos.scenarios import events
    events.phase_started.add_listener(lambda name: print("now in", name))

Listeners run in the runner's thread, in the order they were added; one that
raises stops the run as any error would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class EventHook:
    """A list of listeners called with the same keyword arguments when the event fires."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[..., Any]] = []

    def add_listener(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Call `listener` each time the event fires; return it (usable as a decorator)."""
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Callable[..., Any]) -> None:
        """Stop calling `listener`."""
        self._listeners.remove(listener)

    def fire(self, **kwargs: Any) -> None:
        """Call every listener with these keyword arguments."""
        for listener in list(self._listeners):
            listener(**kwargs)


#: A phase begins: name=str.
phase_started = EventHook("phase_started")
#: A phase ends: name=str, status=str.
phase_ended = EventHook("phase_ended")
#: The shoppers are about to start (Locust's process is started next): users=int.
load_starting = EventHook("load_starting")
#: The shoppers are about to be stopped.
load_stopping = EventHook("load_stopping")
#: A fault (or fix step) was applied: description=str.
fault_injected = EventHook("fault_injected")
#: A fault (or fix step) was reverted: description=str.
fault_reverted = EventHook("fault_reverted")
