"""Regress as a pytest plugin: the scenario catalogue as test items (`pytest -m chaos`).

Registered through the `pytest11` entry point `faultyard = "chaos.regress.plugin"`,
so pytest loads it in every run, the project's own suite included. It therefore
imports nothing heavy when loaded (pytest and the standard library only), and
adds no item and changes nothing unless `-m` selects the `chaos` marker:

- `pytest -m chaos` adds one item per scenario (`chaos::NAME[fixed]`), run
  with its fix on: the SLO must hold and the bug's symptoms stay away;
  `--chaos-mode bug` runs them with the bug on: every symptom must appear.
- Each item runs the scenario through chaos.scenarios.runner, on the stack of
  the environment's settings (FAULTYARD_*), brought up once per test run if it
  is down and stopped at the end only if this run started it.
- `--chaos-report-dir DIR` receives each run's report folder, one combined
  journal.json and summary.md with the resilience score (chaos.regress.summary).

Modules: plugin (the hooks), options (the command line), items (the collector
and the items), stack (the session's stack), findings (what each probe saw, and
a failing item's message), record (one item's record and the combined journal),
summary (the score and the Markdown summary).
"""
