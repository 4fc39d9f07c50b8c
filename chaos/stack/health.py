"""Readiness checks that ask each service a real question: a query, a PING, /readyz."""

from __future__ import annotations

import time

import psycopg
import requests
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

from chaos.settings import StackSettings
from chaos.stack import postgres
from chaos.stack.service import NotReady
from chaos.toxiproxy import ToxiproxyClient, ToxiproxyError
from target_app.public import RELAY_HEARTBEAT_KEY, SCHEDULER_NAME, load_settings

CHECK_TIMEOUT_S = 2.0


def _redis(settings: StackSettings) -> Redis:
    return Redis(
        host=settings.host,
        port=settings.redis_port,
        socket_connect_timeout=CHECK_TIMEOUT_S,
        socket_timeout=CHECK_TIMEOUT_S,
    )


def postgres_ready(settings: StackSettings, pid: int) -> None:
    """Run a query on the cluster."""
    try:
        with postgres.connect(settings) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise NotReady(str(exc).strip().splitlines()[0] if str(exc) else "no answer") from None


def redis_ready(settings: StackSettings, pid: int) -> None:
    """PING Redis."""
    try:
        with _redis(settings) as client:
            client.ping()
    except RedisError as exc:
        raise NotReady(str(exc)) from None


def app_ready(settings: StackSettings, pid: int) -> None:
    """Ask the shop's /readyz, which checks PostgreSQL and Redis itself."""
    try:
        response = requests.get(f"{settings.app_url}/readyz", timeout=CHECK_TIMEOUT_S)
    except requests.RequestException as exc:
        raise NotReady(type(exc).__name__) from None
    if response.status_code != 200:
        raise NotReady(f"/readyz answered {response.status_code}: {response.text[:200]}")


def worker_ready(settings: StackSettings, pid: int) -> None:
    """Find the RQ worker with this PID registered in Redis."""
    try:
        with _redis(settings) as client:
            workers = Worker.all(connection=client)
    except RedisError as exc:
        raise NotReady(str(exc)) from None
    if not any(w.pid == pid for w in workers):
        raise NotReady(f"no RQ worker with pid {pid} registered")


def relay_ready(settings: StackSettings, pid: int) -> None:
    """Check the relay wrote its heartbeat in the last few seconds."""
    try:
        with _redis(settings) as client:
            beat = client.get(RELAY_HEARTBEAT_KEY)
    except RedisError as exc:
        raise NotReady(str(exc)) from None
    if beat is None or time.time() - float(beat) > 5:
        raise NotReady("no recent relay heartbeat")


def toxiproxy_ready(settings: StackSettings, pid: int) -> None:
    """Ask the Toxiproxy API for its version."""
    try:
        ToxiproxyClient(settings.toxiproxy_api_url, timeout_s=CHECK_TIMEOUT_S).version()
    except ToxiproxyError as exc:
        raise NotReady(str(exc)) from None


def exporter_ready(settings: StackSettings, pid: int) -> None:
    """Scrape the Faultyard exporter once: it answers with its fault series (hidden or not)."""
    try:
        response = requests.get(settings.exporter_url, timeout=CHECK_TIMEOUT_S)
    except requests.RequestException as exc:
        raise NotReady(type(exc).__name__) from None
    # faultyard_faults_hidden is always there; faultyard_faults_active is not during a drill.
    if response.status_code != 200 or "faultyard_faults_hidden" not in response.text:
        raise NotReady(f"{settings.exporter_url} answered {response.status_code}")


def scheduler_ready(settings: StackSettings, pid: int) -> None:
    """Check the RQ scheduler registered with this PID and holds the payments queue's lock."""
    try:
        with _redis(settings) as client:
            registered = client.hget(SCHEDULER_KEY_TEMPLATE % SCHEDULER_NAME, "pid")
            holder = client.get(RQScheduler.get_locking_key(load_settings().payment_queue))
    except RedisError as exc:
        raise NotReady(str(exc)) from None
    if registered is None or int(registered) != pid:
        raise NotReady(f"no RQ scheduler with pid {pid} registered")
    if holder is None or holder.decode() != SCHEDULER_NAME:
        raise NotReady("the scheduler does not hold the payments queue's lock yet")
