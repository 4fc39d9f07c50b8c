"""`make bench-proxy`: pgbench straight to PostgreSQL vs through the embedded proxy.

Rounds alternate the two paths in one session (the order flips each round), so
both see the same machine. Then a 100 ms latency toxic is measured per
transaction at p50 and p99. Results go to results/bench-proxy.{json,md}.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from chaos.bench.private_stack import private_stack, write_results
from chaos.settings import StackSettings
from chaos.stack import postgres
from chaos.toxiproxy import ToxiproxyClient


@dataclass(frozen=True)
class Run:
    path: str
    round: int
    tps: float
    latency_avg_ms: float


def pgbench(settings: StackSettings, port: int, *args: str, cwd: Path | None = None) -> str:
    argv = [
        str(postgres.bin_dir(settings) / "pgbench"),
        "-h", settings.host, "-p", str(port), "-U", settings.pg_user, *args, "bench",
    ]  # fmt: skip
    return subprocess.run(argv, check=True, capture_output=True, text=True, cwd=cwd).stdout


def measure(settings: StackSettings, port: int, seconds: int) -> tuple[float, float]:
    out = pgbench(settings, port, "--select-only", "-c", "8", "-j", "2", "-T", str(seconds), "-n")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    return tps, latency


def latency_percentiles(settings: StackSettings, port: int, seconds: int) -> dict[str, float]:
    """Per-transaction latency through a proxy, from pgbench's transaction log."""
    with tempfile.TemporaryDirectory() as tmp:
        pgbench(
            settings,
            port,
            "--select-only",
            "-c",
            "8",
            "-j",
            "2",
            "-T",
            str(seconds),
            "-n",
            "-l",
            cwd=Path(tmp),
        )
        micros = sorted(
            int(line.split()[2])
            for log in Path(tmp).glob("pgbench_log.*")
            for line in log.read_text().splitlines()
        )

    def pct(p: float) -> float:
        return micros[min(len(micros) - 1, int(p / 100 * len(micros)))] / 1000

    return {
        "transactions": len(micros),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": micros[-1] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per pgbench run")
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()

    with private_stack("postgres", "proxy") as settings:
        with postgres.connect(settings) as conn:
            conn.execute("CREATE DATABASE bench")
        pgbench(settings, settings.pg_port, "-i", "-s", "10", "-q")
        direct, proxied = settings.pg_port, settings.proxy_pg_port
        runs: list[Run] = []
        for n in range(1, args.rounds + 1):
            order = [("direct", direct), ("proxy", proxied)]
            for path, port in order if n % 2 else reversed(order):
                tps, latency = measure(settings, port, args.seconds)
                runs.append(Run(path, n, tps, latency))
                print(f"round {n} {path:<6} {tps:9.0f} tps  {latency:6.2f} ms avg", flush=True)
        client = ToxiproxyClient(settings.toxiproxy_api_url)
        client.add_toxic("postgres", "latency", attributes={"latency": args.latency_ms})
        toxic = latency_percentiles(settings, proxied, args.seconds)
        client.reset()

    median = {p: statistics.median(r.tps for r in runs if r.path == p) for p in ("direct", "proxy")}
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pgbench": f"select-only, scale 10, 8 clients, 2 threads, {args.seconds} s a run",
        "runs": [asdict(r) for r in runs],
        "median_tps": median,
        "proxy_to_direct_tps_ratio": round(median["proxy"] / median["direct"], 3),
        "latency_toxic": {
            "configured_ms": args.latency_ms,
            **toxic,
            "p50_error_ms": round(toxic["p50_ms"] - args.latency_ms, 2),
            "p99_error_ms": round(toxic["p99_ms"] - args.latency_ms, 2),
        },
    }
    lat = summary["latency_toxic"]
    text = (
        f"# Proxy benchmark ({summary['when']})\n\n"
        f"pgbench {summary['pgbench']}; {args.rounds} rounds, direct and proxy alternated.\n\n"
        f"| path | median tps | runs |\n|---|---|---|\n"
        + "".join(
            f"| {p} | {median[p]:.0f} | {', '.join(f'{r.tps:.0f}' for r in runs if r.path == p)} |\n"
            for p in ("direct", "proxy")
        )
        + f"\nproxy / direct throughput: **{summary['proxy_to_direct_tps_ratio']:.2f}**\n\n"
        f"latency toxic {args.latency_ms} ms: p50 {lat['p50_ms']:.1f} ms (error {lat['p50_error_ms']:+.1f}), "
        f"p99 {lat['p99_ms']:.1f} ms (error {lat['p99_error_ms']:+.1f}), {lat['transactions']} transactions\n"
    )
    print(write_results("bench-proxy", summary, text.rstrip("\n").split("\n")).read_text())


if __name__ == "__main__":
    main()
