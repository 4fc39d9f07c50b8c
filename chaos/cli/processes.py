"""`faultyard kill|pause|resume|term SERVICE`: process faults by hand, recorded until undone."""

from __future__ import annotations

import time

import click

from chaos.cli.common import current_stack, native_only, refuse_during_drill
from chaos.durations import DurationError, parse_seconds

TARGETS_HELP = (
    "SERVICE is postgres, redis, app (gunicorn's master and its workers), app:worker (one "
    "gunicorn worker), worker-N (an RQ worker), relay or scheduler."
)


def _seconds(duration: str | None) -> float | None:
    if duration is None:
        return None
    try:
        return parse_seconds(duration, positive=True)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None


def _apply(target: str, action: str, duration: str | None) -> None:
    native_only(action, "use `docker compose kill|pause|unpause|stop` on its containers")
    refuse_during_drill("process faults are the lab's machinery")
    from chaos.faults import process_log, process_timer
    from chaos.faults.context import FaultContext
    from chaos.faults.process import signal_target
    from chaos.faults.process_targets import resolve

    seconds = _seconds(duration)
    stack = current_stack(verbose=False)
    resolved = resolve(stack, target)
    until = time.time() + seconds if seconds else None
    said = signal_target(FaultContext.for_stack(stack), resolved, action, until=until)  # type: ignore[arg-type]
    click.echo(said)
    if resolved.member and action != "pause":
        click.echo("gunicorn starts a new worker in its place by itself")
        return
    if seconds is None:
        undo = f"faultyard resume {target}" if action == "pause" else "faultyard up"
        click.echo(f"until `{undo}` or `faultyard reset`")
        return
    entry = next(
        e
        for e in process_log.faults_on(stack.settings.state_path)
        if e.pid == resolved.record.pid and e.action == action
    )
    process_timer.start(stack.settings.state_path, entry, seconds)
    undo = "continued" if action == "pause" else "started again"
    click.echo(f"{undo} by itself in {duration} (or now: `faultyard reset`)")


DURATION = click.option(
    "--duration", help="Undo it by itself after this long: 30s, 2m (the command returns at once)."
)


@click.command(epilog=TARGETS_HELP)
@click.argument("service")
@DURATION
def kill(service: str, duration: str | None) -> None:
    """Kill SERVICE with SIGKILL, its whole process tree (a crash, the OOM killer).

    It stays down until `faultyard up` or `faultyard reset` starts it again (or
    --duration), except one gunicorn worker, which gunicorn replaces by itself.
    """
    _apply(service, "kill", duration)


@click.command(epilog=TARGETS_HELP)
@click.argument("service")
@DURATION
def pause(service: str, duration: str | None) -> None:
    """Pause SERVICE with SIGSTOP, its whole process tree (a hung process, a long GC pause).

    Its connections stay open and nothing answers on them until `faultyard resume`,
    `faultyard reset` or --duration continues it (SIGCONT).
    """
    _apply(service, "pause", duration)


@click.command(epilog=TARGETS_HELP)
@click.argument("service")
@DURATION
def term(service: str, duration: str | None) -> None:
    """Send SERVICE a deploy's SIGTERM (its main process): it shuts down the way it is built to.

    It stays down until `faultyard up` or `faultyard reset` starts it again (or
    --duration), except one gunicorn worker, which gunicorn replaces by itself.
    """
    _apply(service, "term", duration)


@click.command(epilog=TARGETS_HELP)
@click.argument("service")
def resume(service: str) -> None:
    """Continue a paused SERVICE (SIGCONT to its whole process tree)."""
    native_only("resume", "use `docker compose unpause` on its containers")
    refuse_during_drill("process faults are the lab's machinery")
    from chaos.faults.context import FaultContext
    from chaos.faults.process import resume as resume_service
    from chaos.faults.process_targets import resolve

    stack = current_stack(verbose=False)
    resolve(stack, service)  # the same names and refusals as the faults
    click.echo(resume_service(FaultContext.for_stack(stack), service))
