"""The scenario catalogue: one module per scenario, found by chaos.scenarios.catalogue.

Each module sets `SCENARIO = Scenario(...)` (see chaos.scenarios.model); its
name is the scenario's with hyphens as underscores. `_common` holds what several
scenarios share; `locustfile` holds the shoppers that load drives.
"""
