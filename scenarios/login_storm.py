"""login-storm: password hashing on the event loop; a burst of logins stalls every route."""

from __future__ import annotations

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Setting,
    Switch,
)
from scenarios._common import (
    CATALOG_ANSWERS,
    FEW_ERRORS,
    N_PLUS_ONE,
    SLOW_DATABASE_LINK,
    quantile,
    rate,
)
from scenarios._hub import (
    HUB_BLOCKED_BY_PROCESS,
    HUB_BLOCKED_SYMPTOM,
    HUB_BLOCKS,
    HUB_FREE,
)

LOGIN_ROUTE = "/auth/login"
#: Argon2id passes: a few hundred ms a hash here, over gevent's 100 ms blocking threshold
#: on a machine several times faster too (a release "hardened" the hash's cost).
HARDENED_COST = 16
#: Logins the shop checked a password for (answered 200 or 401; a 429 checks none).
_CHECKED = rate(f'shop_http_requests_total{{route="{LOGIN_ROUTE}",status=~"200|401"}}')
#: Blocks of the hubs per password checked: about one each when the hash holds the hub,
#: whatever the machine's speed, as long as a hash takes over 100 ms. Read only while
#: passwords are checked (more than one every two seconds): with the limit refusing
#: every attempt, a stray block would otherwise be divided by nothing.
BLOCKS_PER_LOGIN = (
    f"({HUB_BLOCKS} / clamp_min({_CHECKED}, 1e-9)) and on() ({_CHECKED} > 0.5) or vector(0)"
)
LOGINS_BY_OUTCOME = "sum by (outcome) (rate(shop_logins_total[10s]))"
LOGIN_P99 = quantile(0.99, "shop_http_request_duration_seconds", f'route="{LOGIN_ROUTE}"')
ON_HUB = "Password hashing runs on the event loop, and logins are not rate limited"

SCENARIO = Scenario(
    name="login-storm",
    title="A burst of logins stalls every page of the shop",
    difficulty="intermediate",
    page=(
        "Since this morning's security release, the whole shop stalls in waves: catalog "
        "pages and the front page, which need no account, take a second "
        "or more now and then. The database is idle and the error rate is flat; the login "
        "page gets far more attempts than usual, nearly all of them failing."
    ),
    faults=(
        Setting(name="password_hash_time_cost", value=HARDENED_COST),
        Switch(name="password_checks_on_hub", value=True),
    ),
    fix=(Switch(name="password_checks_on_hub", value=False),),
    load=LoadProfile(
        users=14,
        spawn_rate=14,
        duration_s=30,
        journeys={"Browser": 8, "Visitor": 2, "CredentialStuffer": 4},
    ),
    symptoms=(
        HUB_BLOCKED_SYMPTOM,
        PromQLProbe(
            name="a_block_per_password_checked",
            expr=BLOCKS_PER_LOGIN,
            comparator=">",
            threshold=0.5,
            description="the hubs block about once per password checked (more than once per "
            "two): the hash is what holds them",
        ),
    ),
    slo=(
        HUB_FREE,
        FEW_ERRORS,
        CATALOG_ANSWERS,
    ),
    key_series=(
        Series(title="Hub blocked (s per s) by process", expr=HUB_BLOCKED_BY_PROCESS),
        Series(title="Hub blocks per password checked", expr=BLOCKS_PER_LOGIN),
        Series(title="Logins by outcome (per s)", expr=LOGINS_BY_OUTCOME),
        Series(title="Login p99", expr=LOGIN_P99, unit="s"),
    ),
    guide=Guide(
        where_to_look=(
            "The Runtime dashboard (`faultyard dashboard runtime`): hub blocked time and "
            "blocks/s by process, next to the shop's CPU.",
            "The logins: `shop_logins_total` by outcome (ok, failed, limited) and "
            "`shop_password_hash_seconds` (how long a request waited for its hash); the "
            "access log's `/auth/login` lines and their client addresses.",
            "The Load table of the report (Locust, the clients' own clock): the p99 of catalog "
            "and front-page requests, which never touch an account, jumps while their median "
            "stays low.",
            "`faultyard logs app --grep 'hub blocked'`: gevent's monitor thread names the "
            "innermost frames of the greenlet that held the hub: `argon2` under "
            "`verify_password` in `target_app/accounts/passwords.py`.",
        ),
        what_you_will_see=(
            "Failed logins arriving steadily from one client address, each answered 401, "
            "with no limit: a credential-stuffing run (pairs leaked from another site, most "
            "emails unknown here).",
            "Hub blocked time climbing from zero, about one block per password checked, each "
            "as long as one Argon2id hash at the new cost (a few hundred ms here).",
            "Pages that need no account (catalog, front page) with a p99 several times their "
            "usual one, the database idle and nothing erroring: they waited behind the hashes.",
        ),
        root_cause=(
            "Argon2id is slow on purpose (that is what makes a stolen hash hard to crack), "
            "and the release raised its cost. The login route calls it in the request's "
            "greenlet: a gevent worker serves all its requests on one OS thread and a "
            "greenlet gives the others a turn only when it waits for I/O, so each hash holds "
            "the whole worker for its full time. An unknown email is checked against a decoy "
            "hash of the same cost (so timing tells nothing), and no limit stops a client "
            "that tries pair after pair: a stuffing run keeps every worker hashing."
        ),
        fix=(
            "Move the hash off the event loop and bound how much hashing a client can ask "
            "for. Here the check runs in gevent's thread pool (`get_hub().threadpool.apply`: "
            "argon2-cffi releases the GIL while it hashes, so the hub goes on serving), and "
            "Flask-Limiter counts login attempts per client address and failed logins per "
            "account in Redis (429 with `Retry-After`). Pick the cost for the hardware and "
            "the login rate you expect (OWASP: 19 MiB, 2 passes as a floor), and watch "
            "`shop_password_hash_seconds`. Here: `faultyard switch password_checks_on_hub "
            "off`, or `make scenario login-storm FIXED=1`."
        ),
        further_reading=(
            Link(
                title="OWASP: Password Storage Cheat Sheet (Argon2id parameters)",
                url="https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html",
            ),
            Link(
                title="OWASP: Credential stuffing prevention",
                url="https://cheatsheetseries.owasp.org/cheatsheets/Credential_Stuffing_Prevention_Cheat_Sheet.html",
            ),
            Link(
                title="gevent: the thread pool (running blocking calls off the hub)",
                url="https://www.gevent.org/api/gevent.threadpool.html",
            ),
            Link(
                title="Flask-Limiter: rate limits for Flask",
                url="https://flask-limiter.readthedocs.io/",
            ),
        ),
    ),
    answer=AnswerKey(
        component="shop",
        root_cause="password-hashing-on-event-loop",
        keywords=(
            "hash",
            "argon2",
            "event loop",
            "hub",
            "rate limit",
            "credential stuffing",
            "thread pool",
        ),
        choices=(
            ON_HUB,
            SLOW_DATABASE_LINK,
            N_PLUS_ONE,
            "The shop has too few gunicorn workers for the traffic",
        ),
        correct_choice=0,
    ),
)
