"""The catalogue as the README's Markdown table (`faultyard list --markdown`)."""

from __future__ import annotations

from chaos.scenarios.catalogue import Entry

HEADER = (
    "| scenario | difficulty | what goes wrong | faults injected | symptoms probed | fix |",
    "|---|---|---|---|---|---|",
)


def _cell(text: str) -> str:
    """Return text fit for one table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def row(entry: Entry) -> str:
    """Return one scenario's row."""
    s = entry.scenario
    module = s.name.replace("-", "_")
    name = f"[`{s.name}`](scenarios/{module}.py)" if entry.built_in else f"`{s.name}`"
    cells = (
        name,
        s.difficulty,
        s.title,
        "; ".join(f"`{f.describe()}`" for f in s.faults),
        "; ".join(p.description for p in s.symptoms),
        "; ".join(f"`{f.describe()}`" for f in s.fix),
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def markdown_table(entries: dict[str, Entry]) -> str:
    """Return the whole table, one scenario a row in name order, ending with a newline."""
    return "\n".join([*HEADER, *(row(e) for e in entries.values())]) + "\n"
