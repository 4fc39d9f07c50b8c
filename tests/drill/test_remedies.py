"""Which commands are remedies a drill may accept, and what answer keys may name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chaos.drill.state import remedy_of
from chaos.scenarios.catalogue import load_catalogue
from chaos.scenarios.model import AnswerKey

CATALOGUE = load_catalogue()


@pytest.mark.parametrize(
    ("argv", "remedy"),
    [
        (["setting", "catalog_cache_ttl_s", "5"], "setting:catalog_cache_ttl_s"),
        (["setting", "catalog_cache_ttl_s", "default"], "setting:catalog_cache_ttl_s"),
        (["reload", "app"], "reload:app"),
        (["setting", "catalog_cache_ttl_s"], None),  # only looks
        (["setting", "reset"], None),
        (["logs", "app"], None),
        ([], None),
    ],
)
def test_a_command_is_a_remedy_when_it_changes_something(
    argv: list[str], remedy: str | None
) -> None:
    assert remedy_of(argv) == remedy


def test_remedies_in_answer_keys_are_settings_the_shop_has_or_services_of_the_stack() -> None:
    from chaos.settings import StackSettings
    from chaos.stack.services import services
    from target_app.runtime_settings import REGISTRY as SETTINGS

    names = {s.name for s in services(StackSettings())}
    for scenario in CATALOGUE.values():
        for remedy in scenario.answer.remedies:
            kind, target = remedy.split(":")
            assert target in (SETTINGS if kind == "setting" else names), (scenario.name, remedy)


def test_a_remedy_must_say_what_it_changes() -> None:
    key = CATALOGUE["db-latency"].answer.model_dump(mode="json")
    with pytest.raises(ValidationError):
        AnswerKey.model_validate({**key, "remedies": ["restart everything"]})
