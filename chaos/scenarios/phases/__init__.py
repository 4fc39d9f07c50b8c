"""The phases of a run, one module each, in order: preflight, baseline, inject, observe,
rollback, recovery, report. Each takes the run's context and leaves its record in the journal."""
