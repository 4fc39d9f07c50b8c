"""reconnect-storm: live stock clients cut off together, coming back at once with nothing to resume."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Deploy,
    Guide,
    Link,
    LoadProfile,
    Pause,
    PromQLProbe,
    Scenario,
    Series,
    Switch,
    Toxic,
)
from scenarios._common import FEW_ERRORS, rate

#: How long the shop proxy resets every connection that sends data back: long enough for
#: checkouts to publish stock changes that the cut-off clients must not lose.
CUT_MS = 5000
#: Long enough after the release for every page to have reconnected to the new workers
#: (they wait about a second, told by the old ones).
RECONNECTED_S = 3.0
CONNECTIONS = "shop_live_connections_total"
MISSED = "shop_live_updates_missed_total"
#: Stock changes the clients reported missing after their reconnections, in the last 15 s.
MISSED_RECENTLY = f"sum(increase({MISSED}[15s])) or vector(0)"
#: Live connections opened per second (SSE streams and WebSockets).
CONNECTING = f"{rate(CONNECTIONS)} or vector(0)"
#: Eight listeners that wait about a second and back off while their attempts fail open a few
#: connections a second during a cut; clients that come back at once open them as fast as the
#: shop answers (hundreds a second on this machine, more on a faster one).
STORM_PER_S = 20
AT_ONCE = "The live stock streams have clients reconnect at once, with nothing to resume from"

SCENARIO = Scenario(
    name="reconnect-storm",
    title="A blip on the network, and the live stock view goes wrong",
    difficulty="intermediate",
    page=(
        "Product pages show stock live. After this afternoon's release, a short network blip "
        "in front of the shop made its CPU jump for a few seconds, and customers "
        "now report product pages whose stock disagrees with the cart: a product shown "
        "in stock that checkout says is gone. Reloading the page fixes it."
    ),
    faults=(
        Switch(name="stream_without_resume", value=True),
        # The release that shipped the live stream: gunicorn hands the streams over to its new
        # workers, and the pages reconnect to them within a couple of seconds.
        Deploy(service="app"),
        Pause(seconds=RECONNECTED_S),
        # The blip.
        Toxic(
            proxy="shop",
            type="reset_peer",
            attributes={"timeout": 0},
            stream="downstream",
            duration_ms=CUT_MS,
        ),
    ),
    fix=(Switch(name="stream_without_resume", value=False),),
    load=LoadProfile(
        users=16,
        spawn_rate=16,
        duration_s=20,
        # Buy-now purchases are placed in one request, even when the cut eats the answer:
        # stock keeps changing while the pages are cut off (a cart's next step would stop).
        journeys={"Buyer": 6, "MobileBuyer": 2, "StockStreamReader": 4, "StockSocketReader": 4},
    ),
    symptoms=(
        PromQLProbe(
            name="updates_missed",
            expr=MISSED_RECENTLY,
            comparator=">",
            threshold=0,
            description="live clients missed stock changes across their reconnections "
            "(in the last 15 s, as their reports and the events stream count them)",
        ),
        PromQLProbe(
            name="reconnect_storm",
            expr=CONNECTING,
            comparator=">",
            threshold=STORM_PER_S,
            description=f"more than {STORM_PER_S} live connections opened per second",
        ),
    ),
    slo=(
        PromQLProbe(
            name="no_update_missed",
            expr=MISSED_RECENTLY,
            comparator="==",
            threshold=0,
            description="a live client misses no stock change, cut off or not",
        ),
        PromQLProbe(
            name="no_reconnect_storm",
            expr=CONNECTING,
            comparator="<=",
            threshold=STORM_PER_S,
            description=f"at most {STORM_PER_S} live connections opened per second",
        ),
        FEW_ERRORS,
    ),
    key_series=(
        Series(
            title="Live connections opened/s, by whether they resumed",
            expr=f"sum by (resumed) (rate({CONNECTIONS}[10s]))",
            unit="1/s",
        ),
        Series(
            title="Stock changes the clients missed/s",
            expr=f"{rate(MISSED)} or vector(0)",
            unit="1/s",
        ),
        Series(
            title="SSE streams and WebSockets open",
            expr="sum(shop_sse_streams_open) + sum(shop_websockets_open)",
        ),
        Series(
            title="Shop CPU (cores)",
            expr='sum(rate(faultyard_process_cpu_seconds_total{service="app"}[10s]))',
        ),
    ),
    guide=Guide(
        where_to_look=(
            "Live connections opened per second (`shop_live_connections_total`, by "
            "transport and by `resumed`) against the streams open: one open stream per "
            "page is normal; many opened per second for a handful open is churn.",
            "The shop's access log for /stream/stock and /ws/stock: "
            "`faultyard logs app --since 2m --grep /stock` shows the same clients coming back "
            "within milliseconds, over and over.",
            "What the pages receive: `curl -N http://127.0.0.1:28000/stream/stock` shows "
            "the stream's first lines (`retry:`) and whether its events carry an `id:`; "
            "`shop_live_updates_missed_total` counts the changes the pages reported missing "
            "after they reconnected.",
        ),
        what_you_will_see=(
            "During the cut, tens to hundreds of live connections opened per second for a "
            "handful of pages, not one of them resumed, and the shop's CPU up several times.",
            "After it, every client back, and stock changes missing from their view: the "
            "ones published while they were away (and the ones cut off in flight).",
            "With the fix: a few attempts per client, spread out, each reconnection resumed "
            "after the last event the client had, and nothing missed.",
        ),
        root_cause=(
            "The live stock streams are built as if a connection never broke. The SSE "
            "stream tells EventSource to reconnect after 0 ms (`retry: 0`), the WebSocket's "
            "hello says the same to the page's client, and neither gives its events an id: "
            "a reconnecting client cannot say where it was, and the server starts it from "
            "'now'. When something in front of the shop cuts the connections (a proxy "
            "restart, a load balancer's reset, a mobile network), every client comes back at "
            "once, fails, and comes back again, as fast as the shop can answer; and the "
            "changes published meanwhile are never delivered."
        ),
        fix=(
            "Make live updates resumable and reconnections gentle: give every event its id "
            "in a log that keeps them (here the Redis events stream), resume after "
            "`Last-Event-ID` (SSE) or the client's last id (WebSocket), tell clients a "
            "reconnection delay with jitter (`retry:`), and have them back off "
            "exponentially while their attempts fail. Here: `faultyard switch "
            "stream_without_resume off`, or `make scenario reconnect-storm FIXED=1`."
        ),
        further_reading=(
            Link(
                title="HTML Living Standard: Server-sent events (retry, Last-Event-ID)",
                url="https://html.spec.whatwg.org/multipage/server-sent-events.html",
            ),
            Link(
                title="AWS Architecture Blog: Exponential backoff and jitter",
                url="https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/",
            ),
            Link(
                title="Redis streams: XREAD and consuming from an id",
                url="https://redis.io/docs/latest/develop/data-types/streams/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        related_components=("network",),
        root_cause="stream-reconnects-at-once-without-resume",
        keywords=("retry", "last-event-id", "backoff", "resume", "jitter", "event id"),
        choices=(
            AT_ONCE,
            "The network blip corrupted the stock data in the database",
            "Redis lost the stock updates when the network blipped",
        ),
        correct_choice=0,
    ),
)
