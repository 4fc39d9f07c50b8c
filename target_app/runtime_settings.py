"""Shop settings that may change while the shop runs, e.g. the payment provider's failure rate.

Each process reads its ShopSettings from the environment once. A few of them,
listed in REGISTRY, may be overridden at runtime: the overrides live in a small
JSON file in the state folder (the same mechanism as the bug switches, see
target_app.state_file), so a change reaches every gunicorn worker, RQ worker
and the relay within a second, and keeps working while Redis or PostgreSQL are
down. The code that uses a setting reads `board.apply(settings)` where it uses
it, and so sees the runtime value. Types and ranges are ShopSettings' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import TypeAdapter, ValidationError

from target_app.config import ShopSettings
from target_app.state_file import SharedStateFile

Value = bool | int | float | str


@dataclass(frozen=True)
class RuntimeSetting:
    """A ShopSettings field that may change at runtime, and where the shop reads it."""

    name: str
    read_by: str

    @property
    def type_name(self) -> str:
        """Return the setting's type as a word: float, int, bool or str."""
        annotation = ShopSettings.model_fields[self.name].annotation
        return getattr(annotation, "__name__", str(annotation))

    @property
    def bounds(self) -> str:
        """Return the allowed range, e.g. `0 <= x <= 1` ('' when any value of the type goes)."""
        parts = []
        for rule in ShopSettings.model_fields[self.name].metadata:
            for kind, symbol in ((Ge, ">="), (Gt, ">"), (Le, "<="), (Lt, "<")):
                if isinstance(rule, kind):
                    parts.append(f"x {symbol} {getattr(rule, type(rule).__name__.lower()):g}")
        return ", ".join(parts)

    def describe(self) -> str:
        """Return the type and range in words, e.g. `float, x >= 0, x <= 1`."""
        return ", ".join(filter(None, (self.type_name, self.bounds)))


REGISTRY: dict[str, RuntimeSetting] = {
    s.name: s
    for s in (
        RuntimeSetting(
            "payment_failure_rate",
            "the payment job: share of captures the simulated provider fails (0 to 1)",
        ),
        RuntimeSetting(
            "payment_delay_ms", "the payment job: how long the simulated provider takes"
        ),
        RuntimeSetting(
            "payment_decline_above_cents",
            "the payment job: the simulated provider declines, for good, any capture of more "
            "than this (a card's limit; 0 = it declines none)",
        ),
        RuntimeSetting(
            "checkout_lock_pause_ms",
            "checkout: work done between row locks (or, unlocked, between reading the stock and "
            "writing it), widening the window in which two checkouts interleave",
        ),
        RuntimeSetting(
            "pricing_call_ms",
            "repricing: how long the simulated pricing service takes to quote a price",
        ),
        RuntimeSetting(
            "catalog_cache_ttl_s",
            "catalog list, search and product detail: per-process cache lifetime (0 = no cache)",
        ),
        RuntimeSetting(
            "password_hash_time_cost",
            "accounts: Argon2id passes per password hash (new hashes, and the decoy an unknown "
            "email is checked against; a stored hash keeps the cost it was made with)",
        ),
        RuntimeSetting(
            "highlights_ttl_s",
            "the front page's best sellers: how long the shared cache entry stays fresh",
        ),
    )
}


class UnknownSettingError(KeyError):
    """A setting name that may not change at runtime (or does not exist)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown runtime setting {self.name!r}; known: {', '.join(sorted(REGISTRY))}"


class InvalidSettingError(ValueError):
    """A value of the wrong type or out of the setting's range."""


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    field = ShopSettings.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, *field.metadata])


def validate(name: str, value: object) -> Value:
    """Return `value` as the setting's type; raise UnknownSettingError or InvalidSettingError."""
    setting = REGISTRY.get(name)
    if setting is None:
        raise UnknownSettingError(name)
    wanted = f"{name} takes a {setting.describe()}"
    if isinstance(value, bool) and setting.type_name != "bool":
        raise InvalidSettingError(f"{wanted}, not {value!r}")
    try:
        return _adapter(name).validate_python(value)  # type: ignore[no-any-return]
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise InvalidSettingError(f"{wanted}, not {value!r} ({reason})") from None


class RuntimeSettings:
    """The runtime overrides of the state folder: read (cached), set, reset, applied."""

    def __init__(self, path: Path | str, *, refresh_s: float = 0.2) -> None:
        self._file = SharedStateFile(path, refresh_s=refresh_s)
        self.path = self._file.path
        self._parsed_from: dict[str, Any] | None = None
        self._overrides: dict[str, Value] = {}
        # The last apply(): (settings, the stored dict it used, the result).
        self._applied: tuple[ShopSettings, dict[str, Any] | None, ShopSettings] | None = None

    def overrides(self, *, fresh: bool = False) -> dict[str, Value]:
        """Return the settings changed at runtime (valid entries only; as the file holds them now if `fresh`)."""
        return dict(self._refreshed(fresh=fresh))

    def _refreshed(self, *, fresh: bool = False) -> dict[str, Value]:
        stored = self._file.read(fresh=fresh)
        if stored is not self._parsed_from:
            self._overrides = _valid(stored)
            self._parsed_from = stored
        return self._overrides

    def apply(self, settings: ShopSettings) -> ShopSettings:
        """Return `settings` with the runtime overrides in place (the same object if none).

        Requests call this: the copy is made again only when the overrides change.
        """
        overrides = self._refreshed()
        if not overrides:
            return settings
        applied = self._applied
        if applied is None or applied[0] is not settings or applied[1] is not self._parsed_from:
            applied = self._applied = (
                settings,
                self._parsed_from,
                settings.model_copy(update=overrides),
            )
        return applied[2]

    def set(self, name: str, value: object) -> Value:
        """Validate and store a setting for every process; return the stored value."""
        checked = validate(name, value)
        self._file.update(lambda stored: {**_valid(stored), name: checked})
        return checked

    def reset(self, name: str | None = None) -> None:
        """Drop one override (or every one): back to the environment's value."""
        if name is not None and name not in REGISTRY:
            raise UnknownSettingError(name)
        self._file.update(
            lambda stored: (
                {} if name is None else {k: v for k, v in _valid(stored).items() if k != name}
            )
        )


def _valid(stored: dict[str, Any]) -> dict[str, Value]:
    # A hand-edited or stale file never breaks the shop: entries that do not validate are ignored.
    valid = {}
    for name, value in stored.items():
        try:
            valid[name] = validate(name, value)
        except (UnknownSettingError, InvalidSettingError):
            continue
    return valid


def current_settings() -> ShopSettings:
    """Return the current app's settings with the runtime overrides applied."""
    from flask import current_app  # here: the CLI uses this module without Flask

    board: RuntimeSettings = current_app.extensions["runtime_settings"]
    return board.apply(current_app.extensions["settings"])
