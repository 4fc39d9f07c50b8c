"""A scenario of a user's own, kept outside `scenarios/`: a toxic on the Redis link.

It needs no shop code of its own, so it is one module and nothing else. Its only
symptom is the exporter seeing the toxic, so it turns within seconds: tests that
need a whole, quick run (signals at every phase) use it through
FAULTYARD_SCENARIOS_PATH.
"""

from chaos.scenarios.model import (
    AnswerKey,
    Guide,
    Link,
    LoadProfile,
    PromQLProbe,
    Scenario,
    Series,
    Setting,
    Toxic,
)

SCENARIO = Scenario(
    name="slow-redis",
    title="A slow link to Redis",
    difficulty="beginner",
    page="Everything that touches the queue is a little slower.",
    faults=(Toxic(proxy="redis", type="latency", attributes={"latency": 20}),),
    fix=(Setting(name="catalog_cache_ttl_s", value=5),),
    load=LoadProfile(users=2, spawn_rate=2, duration_s=20, journeys={"Browser": 1}),
    symptoms=(
        PromQLProbe(
            name="redis_link_slowed",
            expr='sum(faultyard_fault_active{kind="toxic",target="redis"}) or vector(0)',
            comparator=">",
            threshold=0,
            description="a toxic slows the Redis link",
        ),
    ),
    slo=(
        PromQLProbe(
            name="prometheus_answers",
            expr="vector(1)",
            comparator=">",
            threshold=0,
            description="Prometheus answers",
        ),
    ),
    key_series=(Series(title="Faults on", expr="sum(faultyard_faults_active)"),),
    guide=Guide(
        where_to_look=("`faultyard toxic list`: the toxics on each proxy.",),
        what_you_will_see=("A latency toxic on the redis proxy.",),
        root_cause="Every Redis round trip waits for the toxic's latency.",
        fix="Remove the toxic.",
        further_reading=(
            Link(title="Toxiproxy: toxics", url="https://github.com/Shopify/toxiproxy#toxics"),
        ),
    ),
    answer=AnswerKey(
        component="network",
        related_components=("redis",),
        root_cause="slow-redis-link",
        keywords=("redis",),
        choices=("Redis answers late", "PostgreSQL answers late", "The shop is overloaded"),
        correct_choice=0,
    ),
)
