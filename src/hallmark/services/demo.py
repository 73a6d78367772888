"""Demo data for ``hallmark serve --demo`` and ``make demo``: a few creators and their works.

Everything here was written for Hallmark: the poems and prose are original, and the images are
drawn by the code below with Pillow from fixed seeds, so every run produces the same bytes.
Together they show each origin label, each visibility, text and images, and one revoked
certificate. The accounts share one published password, so this is for development instances
only (``serve --demo`` refuses production mode).
"""

from __future__ import annotations

import io
import logging
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import select

from hallmark.core.digests import sha256_hex
from hallmark.services.accounts import create_user, find_user
from hallmark.services.instance import Instance
from hallmark.services.registry import register_work, revoke
from hallmark.storage.models import Work

logger = logging.getLogger(__name__)

DEMO_LOGIN = "demo"
DEMO_PASSWORD = "hallmark-demo"
OTHER_CREATORS = ("marigold", "tern")
REVOKE_REASON = "Withdrawn by the creator: a revised version replaces this draft."

TIDE_TABLES = """\
Tide Tables

The harbour keeps its own appointments:
twice a day the water leaves
without saying where it goes,
and twice a day it comes back
smelling of somewhere else.

My grandmother read the tables
the way some people read the news,
a pencil tucked behind her ear,
circling the lowest ones,
the days the mussels would be showing.

I have her pencil still.
The tide has not once asked for it.
"""

LAMPLIGHTER = """\
# The Lamplighter Takes a Day Off

For thirty-one years Osric lit the lamps on Fennel Street, and for thirty-one years the lamps
were lit. Then one Tuesday in October he woke, looked at the ceiling for a while, and decided
that today he would not.

He made porridge instead, and ate it slowly, the way you eat something you have earned.

At dusk the street went blue, then grey, then a soft, uncertain dark. Doors opened. People came
out holding candles and torches and one old brass lantern nobody had seen in years. They stood
about and talked, because it is hard to hurry when you cannot see your own feet.

By the time Osric walked down with his pole, the street was full of small moving lights and no
one was in any rush to go home. He lit the first lamp anyway. Somebody cheered. He bowed, which
he had never once done before, and went on to the next.
"""

SLOW_TRAIN = """\
Notes from a Slow Train

Fields, then a river pretending to be a road,
then a road that gives up and becomes a lane.
A heron stands in a ditch like a question
nobody on board has time to answer.

The man across from me peels an orange
in one long ribbon, the way my father did,
and the whole carriage smells of December
although it is the middle of June.

We stop at a station with no name on it.
No one gets on. No one gets off.
The train considers this for a minute,
then, politely, carries on.
"""

KITCHEN_WEATHER = """\
Weather Report for a Small Kitchen

Morning: steam rising from the kettle, clearing by nine. A light drizzle of flour near the
bread board. Visibility good as far as the window.

Afternoon: a warm front moving in from the oven, with a strong chance of cinnamon. Pressure
building around the sink.

Evening: calm, with scattered crumbs. The outlook for tomorrow is much the same, which is
exactly how we like it.
"""

EARLY_CROCUS = """\
First Draft of Spring

The crocuses came up too early again,
purple fists raised in the frost,
as if someone had told them a rumour
and they could not wait to check.
"""


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def draw_harbour_lights(width: int = 480, height: int = 320) -> bytes:
    """Dusk over water: banded sky, a dark horizon, warm lights and their broken reflections."""
    rng = random.Random(1874)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = int(height * 0.55)
    top, low = (34, 40, 86), (232, 146, 96)
    for y in range(horizon):
        draw.line([(0, y), (width, y)], fill=_blend(top, low, y / horizon))
    for y in range(horizon, height):
        t = (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=(int(40 - 20 * t), int(46 - 20 * t), int(80 - 30 * t)))
    draw.rectangle([0, horizon - 6, width, horizon], fill=(24, 22, 40))
    for _ in range(14):
        x = rng.randrange(10, width - 10)
        r = rng.randrange(3, 7)
        colour = rng.choice([(255, 214, 120), (255, 180, 90), (250, 240, 200)])
        draw.ellipse([x - r, horizon - 10 - r, x + r, horizon - 10 + r], fill=colour)
        # Reflections break up and fade with distance from the shore.
        for step in range(1, 10):
            y = horizon + step * 8
            half = max(1, r + rng.randrange(-2, 6) - step // 3)
            tone = _blend(colour, (40, 46, 80), step / 12)
            draw.line([(x - half, y), (x + half, y)], fill=tone, width=2)
    return _png(image.filter(ImageFilter.GaussianBlur(0.8)))


def draw_quiet_grid(width: int = 420, height: int = 420) -> bytes:
    """Soft squares on a paper ground, each nudged a little out of line."""
    rng = random.Random(2207)
    image = Image.new("RGB", (width, height), (244, 239, 228))
    draw = ImageDraw.Draw(image)
    palette = [(92, 124, 140), (178, 110, 88), (214, 176, 98), (120, 150, 110), (70, 74, 96)]
    cell = 60
    for row in range(6):
        for col in range(6):
            x = 30 + col * cell + rng.randrange(-4, 5)
            y = 30 + row * cell + rng.randrange(-4, 5)
            size = rng.randrange(34, 50)
            draw.rectangle([x, y, x + size, y + size], fill=rng.choice(palette))
    return _png(image)


def draw_dune_study(width: int = 480, height: int = 300) -> bytes:
    """Layered sine-curve dunes in sand tones under a pale sky."""
    rng = random.Random(3301)
    image = Image.new("RGB", (width, height), (236, 226, 206))
    draw = ImageDraw.Draw(image)
    tones = [(226, 196, 150), (212, 172, 122), (194, 148, 100), (166, 120, 82), (130, 92, 64)]
    for layer, tone in enumerate(tones):
        base = 110 + layer * 38
        phase = rng.uniform(0, math.tau)
        amplitude = rng.uniform(10, 24)
        wavelength = rng.uniform(140, 260)
        points = [
            (x, base + amplitude * math.sin(x / wavelength * math.tau + phase))
            for x in range(0, width + 8, 8)
        ]
        draw.polygon([*points, (width, height), (0, height)], fill=tone)
    return _png(image)


@dataclass(frozen=True)
class DemoWork:
    title: str
    creator: str
    filename: str
    data: bytes
    label: str
    visibility: str = "public"
    ai_share: float | None = None
    statement: str | None = None
    revoke: bool = False


def demo_works() -> list[DemoWork]:
    """The demo set, oldest first: every label, every visibility, text and images."""
    stand_in = (
        "Demo data: this drawing stands in for an image made by a generative model; "
        "it is labelled to show how such works are registered for transparency."
    )
    return [
        DemoWork("Tide Tables", "marigold", "tide-tables.txt", TIDE_TABLES.encode(), "human-made"),
        DemoWork(
            "The Lamplighter Takes a Day Off",
            DEMO_LOGIN,
            "lamplighter.md",
            LAMPLIGHTER.encode(),
            "human-made",
        ),
        DemoWork(
            "Harbour Lights at Dusk", "marigold", "harbour.png", draw_harbour_lights(), "human-made"
        ),
        DemoWork(
            "Notes from a Slow Train",
            "tern",
            "slow-train.txt",
            SLOW_TRAIN.encode(),
            "ai-assisted",
            ai_share=15,
            statement="Demo data: an assistant proposed alternatives for two lines.",
        ),
        DemoWork(
            "Quiet Grid",
            "tern",
            "quiet-grid.png",
            draw_quiet_grid(),
            "ai-assisted",
            visibility="unlisted",
            ai_share=40,
            statement="Demo data: the palette was suggested by an assistant.",
        ),
        DemoWork(
            "Dune Study No. 3",
            DEMO_LOGIN,
            "dunes.png",
            draw_dune_study(),
            "ai-generated",
            statement=stand_in,
        ),
        DemoWork(
            "Weather Report for a Small Kitchen",
            DEMO_LOGIN,
            "kitchen.txt",
            KITCHEN_WEATHER.encode(),
            "human-made",
            visibility="private",
        ),
        DemoWork(
            "First Draft of Spring",
            "marigold",
            "crocus.txt",
            EARLY_CROCUS.encode(),
            "human-made",
            revoke=True,
        ),
    ]


def has_works(inst: Instance) -> bool:
    with inst.db.session() as session:
        return session.scalar(select(Work.id).limit(1)) is not None


def _ensure_creators(inst: Instance) -> dict[str, str]:
    ids: dict[str, str] = {}
    with inst.db.session() as session:
        for handle in (DEMO_LOGIN, *OTHER_CREATORS):
            user = find_user(session, handle) or create_user(
                inst,
                session,
                handle,
                password=DEMO_PASSWORD,
                display_name=handle.capitalize(),
            )
            ids[handle] = user.id
    return ids


def seed_demo(inst: Instance) -> int:
    """Create the demo creators and works that are missing; return how many works were added.

    Safe to run again, and to resume after an interruption: existing accounts are reused (their
    passwords untouched), works whose bytes are already registered are skipped, and the revoked
    certificate is revoked only once.
    """
    creators = _ensure_creators(inst)
    added = 0
    for work in demo_works():
        with inst.db.session() as session:
            existing = session.scalar(select(Work).where(Work.sha256 == sha256_hex(work.data)))
            certificate_id = existing.certificate.id if existing and existing.certificate else None
            revoked = bool(existing and existing.certificate and existing.certificate.revocation)
        if existing is None:
            registration = register_work(
                inst,
                creator_id=creators[work.creator],
                data=work.data,
                title=work.title,
                declare=work.label,
                ai_share=work.ai_share,
                visibility=work.visibility,
                filename=work.filename,
                statement=work.statement,
            )
            certificate_id = registration.certificate_id
            added += 1
        if work.revoke and not revoked and certificate_id is not None:
            revoke(inst, certificate_id=certificate_id, reason=REVOKE_REASON, actor=None)
    logger.info("seeded %d demo works", added)
    return added
