"""Journeys that use the search box (the locustfile imports them)."""

from __future__ import annotations

import random
from urllib.parse import quote

import gevent
from locust import between, task

from scenarios._shopper import Shopper
from target_app.public import ADJECTIVES, CATEGORIES, NOUNS

#: Pause between two keystrokes, in seconds: a quick typist.
KEYSTROKE_S = (0.05, 0.2)


class Typer(Shopper):
    """Types a product's name into the search box: a suggestion request per keystroke."""

    weight = 1
    wait_time = between(0.5, 1.5)

    @task
    def type_a_name(self) -> None:
        words = [random.choice(ADJECTIVES), random.choice(NOUNS)]
        if random.random() < 0.3:
            words.append(random.choice(CATEGORIES))
        text = " ".join(words)
        if random.random() < 0.5:
            text = text.lower()
        for end in range(1, len(text) + 1):
            if text[end - 1] == " ":
                continue  # a space alone changes no suggestion: the search box waits
            self.client.get(f"/products/suggest?q={quote(text[:end])}", name="/products/suggest")
            gevent.sleep(random.uniform(*KEYSTROKE_S))
