"""Deterministic instances for golden tests: fixed key, clock and ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hallmark.crypto.keys import private_key_from_seed
from hallmark.crypto.signers import KeySigner
from hallmark.services.instance import Instance, init_instance, open_instance
from hallmark.settings import Settings

GOLDEN_SEED = bytes(range(32))
GOLDEN_TIME = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def counter_ids() -> Callable[[str], str]:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}_golden{next(counter):04d}"


def golden_instance(
    home: Path, seed: bytes = GOLDEN_SEED, origin: str = "hallmark.test/log"
) -> Instance:
    init_instance(home, origin=origin)
    return open_instance(
        Settings.load(home),
        clock=lambda: GOLDEN_TIME,
        new_id=counter_ids(),
        signer=KeySigner(private_key_from_seed(seed)),
    )
