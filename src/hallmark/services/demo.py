"""Demo data for ``hallmark serve --demo`` and ``make demo``: a small registry with a history.

Issue #7, item 5: a newcomer should find every page populated. Six people (five creators and a
reviewer) register text and image works over six weeks, across every origin label and every
assurance level:

- *declared*: plain uploads;
- *analyzed*: images whose own metadata or Content Credentials agree with the declaration,
  raised by the analysis job like any upload (:mod:`hallmark.services.analysis`);
- *process-verified*: texts written in the editor, with a keystroke journal submitted through
  :mod:`hallmark.services.drafts` (typed, muse suggestions accepted, or both);
- *reviewed*: editor texts whose journal asked for a person (a large paste), approved by the
  demo reviewer through :mod:`hallmark.services.review`.

A few works wait in the review queue (a large paste; a rejection that was appealed), one image
is a near-copy of another creator's earlier image, found by the prior-art check at analysis,
and its earlier creator has opened a dispute from the match; the notifications these raise are
on the creators' dashboards. One certificate is revoked, one work is unlisted and one private.

Everything is written for Hallmark: the poems and prose are original, and the images are drawn
by the code below with Pillow from fixed seeds. Texts labelled AI-generated, and the images
that carry AI source types in their metadata, are stand-ins written or drawn the same way; their
statements say so. The accounts share one published password, so this is for development
instances only (``serve --demo`` refuses production mode).

Time: the services take the instance's clock, so the demo runs them on a copy of the instance
whose clock it moves to each step's moment in the six weeks before now, and runs the steps in
order of time. Certificates, log entries, reviews and notifications carry those dates, the log
stays in time order, and the insight charts have a shape. Each journal's keystroke times end
just before its registration.

Speed: seeding takes a few seconds. The analysis it runs uses the quick image detectors
(``c2pa``, ``image-metadata``) and the prior-art check of images; texts are not analysed, since
the AI-text detector loads a language model (about 15 s) and the text fingerprint a sentence
embedder (about 8 s). The demo's text works are therefore not in the prior-art index, and its
near-copy is an image.

Seeding is idempotent: a work is known by its creator and title, and every later step checks
the state it would change (a review only of a work still waiting, one dispute per match, one
revocation), so running it again adds nothing and an interrupted run resumes. An instance seeded
by an older version of the demo keeps the works it has and gains the ones it lacks.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import select

from hallmark.core.labels import IPTC_BASE, OriginLabel
from hallmark.services import analysis, consent, disputes, drafts, review
from hallmark.services.accounts import create_user, find_user
from hallmark.services.instance import Instance
from hallmark.services.registry import register_work, revoke
from hallmark.storage.models import Analysis, Appeal, Dispute, SimilarityMatch, User, Work

logger = logging.getLogger(__name__)

DEMO_LOGIN = "demo"
DEMO_PASSWORD = "hallmark-demo"
OTHER_CREATORS = ("marigold", "tern", "wren", "quill")
REVIEWER = "sable"
REVOKE_REASON = "Withdrawn by the creator: a revised version replaces this draft."
#: The detectors the demo's analysis runs: the ones that answer in milliseconds.
DEMO_DETECTORS = ("c2pa", "image-metadata")
#: How far back the demo's history starts, in days before the moment it is seeded.
HISTORY_DAYS = 45


@dataclass(frozen=True)
class DemoPerson:
    handle: str
    display_name: str
    role: str = "creator"
    #: The AI-training consent the person's new works get (issue #6).
    consent: str = "not-allowed"
    consent_policy_url: str | None = None


PEOPLE = (
    DemoPerson(DEMO_LOGIN, "Robin Ashdown"),
    DemoPerson("marigold", "Marigold Vance"),
    DemoPerson("tern", "Tern Okafor", consent="allowed"),
    DemoPerson(
        "wren",
        "Wren Castellano",
        consent="constrained",
        consent_policy_url="https://example.org/wren/ai-training-terms",
    ),
    DemoPerson("quill", "Quill Barrow"),
    DemoPerson(REVIEWER, "Sable Hart", role="reviewer"),
)


# Texts ---------------------------------------------------------------------------------------

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

PUDDLES = """\
A Short Guide to Puddles

Small puddles are for jumping. Medium puddles are for jumping carefully. Large puddles are for
looking into, because they hold a second sky, and it is rude to jump into somebody's sky
without asking.

A puddle on a Monday is a different animal from a puddle on a Saturday. Please plan
accordingly.
"""

TEAPOT = """\
Listing Copy for a Teapot

Elevate your tea ritual with this timeless stoneware teapot. Its generous 1.2-litre capacity
serves the whole table, while the drip-free spout keeps every pour clean and precise. A
removable stainless-steel infuser lets loose-leaf blends unfold their full flavour. Finished in
a soft matte glaze, it brings understated elegance to any kitchen. Dishwasher safe.
"""


# Texts written in the editor: each is a list of parts, typed key by key, accepted from the muse,
# or pasted; joined, the parts are the submitted text.


@dataclass(frozen=True)
class Part:
    """One stretch of writing: ``typed`` key by key, accepted from the ``muse``, or a
    ``paste`` (of unknown origin, as the editor sees it)."""

    how: str
    text: str


def typed(text: str) -> Part:
    return Part("typed", text)


def muse(text: str) -> Part:
    return Part("muse", text)


def paste(text: str) -> Part:
    return Part("paste", text)


COAT_POCKET = (
    typed(
        "Inventory of a Coat Pocket\n\n"
        "One bus ticket, punched twice,\n"
        "from a journey I only half remember.\n"
        "A conker, gone dull as an old shoe.\n"
        "Two coins from a country\n"
        "that has since changed its money.\n"
        "A receipt for bread and string.\n"
        "Sand, a little, from the one warm day.\n"
        "And a note in my own hand\n"
        "that says only: ask her about the boat.\n\n"
        "I never did. The coat hangs by the door\n"
        "and keeps the question for me.\n"
    ),
)

CARTOGRAPHER = (
    typed(
        "The Cartographer's Apprentice\n\n"
        "Ilse was hired to ink the coastlines, because her hand was steady and she did not "
        "talk much. For a month she traced other people's measurements: bays, headlands, the "
        "careful dotted lines of sandbanks. "
    ),
    muse(
        "Then one evening she drew a small island that nobody had measured, just off the edge "
        "of the western sheet."
    ),
    typed(
        " In the morning she meant to scrape it away. The master looked at it for a long time, "
        "said nothing, and wrote a name beside it in his own hand.\n\n"
        "Ships steered around it for a century, to be safe.\n"
    ),
)

NEXT_TENANT = (
    typed(
        "Letter to the Next Tenant\n\n"
        "The back door sticks in wet weather; lift the handle as you push. The radiator in the "
        "small room knocks twice at six in the morning and then behaves.\n\n"
    ),
    paste(
        "There is a blackbird who sings from the aerial across the road every evening in "
        "April. I wrote this down the first spring I lived here and meant to tell whoever came "
        "after me: he is not singing for you, but you may as well listen."
    ),
    typed(
        "\n\nThe key to the shed is on the nail behind the fridge. Be kind to the lemon tree. "
        "It has never once produced a lemon, and it does not need to.\n"
    ),
)

NIGHT_SHIFT = (
    typed(
        "Night Shift at the Bakery\n\n"
        "At two the ovens wake before we do,\n"
        "breathing out the heat they kept all night.\n"
    ),
    muse("Flour hangs in the lamplight like a slow snow"),
    typed("\nthat never reaches the floor.\n\n"),
    paste(
        "By four the first trays cool along the wall,\n"
        "the street outside is still asleep,\n"
        "and the only sound is the radio, low,\n"
        "telling the weather to nobody at all.\n"
    ),
    typed("\nWe eat the broken ones. That is the rule.\n"),
)

FIVE_INSTRUCTIONS = (
    muse("Five Small Instructions\n\n"),
    muse("Open the window before you open the mail.\n"),
    muse("Water the plant that looks least like it needs it.\n"),
    muse("Write one sentence you would not say out loud.\n"),
    muse("Put the kettle on for someone who has not asked.\n"),
    muse("Leave the last page of the book for tomorrow.\n"),
)

SERVER_LULLABY = (
    paste(
        "Lullaby for a Server Room\n\n"
        "Hush now, little fans, and spin down slow,\n"
        "the backups are finished, the queues are low.\n"
        "The green lights blink like a harbour at night,\n"
        "every packet is home and every checksum is right.\n"
        "Sleep, little disks, in your rows and your racks;\n"
        "the morning will bring its requests and its stacks.\n"
    ),
)

SMALL_HOURS = (
    typed(
        "Small Hours\n\n"
        "The fridge hums its one long note.\n"
        "A car goes by and takes its light with it.\n"
    ),
    paste(
        "I have been awake long enough\n"
        "to hear the house settle its accounts:\n"
        "a stair, a pipe, the clock\n"
        "deciding again that it is later.\n"
    ),
    typed("Somewhere a bird tries the first bar of the morning\nand thinks better of it.\n"),
)

HEDGE = (
    typed(
        "What the Hedge Knows\n\n"
        "Where the wren goes when it rains.\n"
        "Which gate was left open in 1987.\n"
    ),
    paste(
        "The names of the children who hid here,\n"
        "the shape of every dog that pushed through,\n"
        "the exact weight of a summer of washing\n"
        "hung along it to dry.\n"
    ),
    typed("It keeps all this the way a hedge keeps anything:\nwith thorns, and without saying.\n"),
)

FOG_NOTES = (
    typed(
        "Notes toward a poem about fog\n\n"
        "- the lamp posts switching off one by one as it lifts\n"
        "- the ferry horn, twice, then nothing\n"
    ),
)


# Drawings ------------------------------------------------------------------------------------


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


def draw_orchard(width: int = 480, height: int = 320) -> bytes:
    """Rows of round trees on rolling green ground, under a washed blue sky."""
    rng = random.Random(4409)
    image = Image.new("RGB", (width, height), (205, 222, 236))
    draw = ImageDraw.Draw(image)
    for band, tone in enumerate([(150, 178, 102), (128, 160, 88), (104, 140, 74), (86, 120, 62)]):
        top = 120 + band * 50
        points = [(x, top + 10 * math.sin(x / 90 + band)) for x in range(0, width + 8, 8)]
        draw.polygon([*points, (width, height), (0, height)], fill=tone)
        for col in range(9):
            x = 24 + col * 54 + band * 12 + rng.randrange(-5, 6)
            y = int(top + 10 * math.sin(x / 90 + band)) - 4
            r = 10 + band * 3 + rng.randrange(0, 4)
            draw.rectangle([x - 2, y, x + 2, y + r], fill=(92, 70, 52))
            crown = (58 + rng.randrange(0, 20), 104 + rng.randrange(0, 30), 52)
            draw.ellipse([x - r, y - 2 * r + 4, x + r, y + 4], fill=crown)
            for _ in range(3):
                fx, fy = x + rng.randrange(-r + 3, r - 2), y - r + rng.randrange(-r + 6, r - 4)
                draw.ellipse([fx - 2, fy - 2, fx + 2, fy + 2], fill=(196, 64, 48))
    return _png(image)


def draw_paper_lanterns(width: int = 420, height: int = 420) -> bytes:
    """Warm paper lanterns on strings across a deep blue night."""
    rng = random.Random(5123)
    image = Image.new("RGB", (width, height), (22, 30, 64))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height // 2)
        draw.point((x, y), fill=(200, 205, 230))
    for row, sag in enumerate((40, 60, 80)):
        base = 90 + row * 110
        points = [(x, base + sag * math.sin(math.pi * x / width)) for x in range(0, width + 6, 6)]
        draw.line(points, fill=(70, 70, 90), width=2)
        for col in range(6):
            x = 30 + col * 72 + rng.randrange(-6, 7)
            y = int(base + sag * math.sin(math.pi * x / width))
            w, h = rng.randrange(18, 26), rng.randrange(26, 36)
            glow = rng.choice([(255, 176, 74), (250, 120, 72), (255, 212, 120)])
            draw.ellipse([x - w - 6, y + 4, x + w + 6, y + 2 * h + 10], fill=(60, 46, 70))
            draw.ellipse([x - w, y + 8, x + w, y + 2 * h + 6], fill=glow)
            draw.rectangle([x - 6, y + 4, x + 6, y + 9], fill=(40, 34, 40))
    return _png(image.filter(ImageFilter.GaussianBlur(0.6)))


def with_source_type(png: bytes, source_type: str) -> bytes:
    """The PNG with an XMP packet stating its IPTC digital source type, as generators and
    editing apps write one; the image-metadata detector reads it (issue #4)."""
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{IPTC_BASE}{source_type}"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    with Image.open(io.BytesIO(png)) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def near_copy(png: bytes) -> bytes:
    """What a copier does to an image: crop the edges, scale it down, brighten it a little."""
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        cropped = image.convert("RGB").crop(
            (width // 20, height // 20, width - width // 20, height - height // 20)
        )
        smaller = cropped.resize((cropped.width * 9 // 10, cropped.height * 9 // 10))
        return _png(ImageEnhance.Brightness(smaller).enhance(1.08))


#: The name the demo's Content Credentials give their signer: a stand-in for a drawing app
#: that signs what it saves, as some cameras and editors do.
SKETCHBOOK = "Hallmark demo sketchbook"


def with_content_credentials(png: bytes, *, title: str, now: datetime) -> bytes:
    """The PNG signed with Content Credentials that record it as a digital creation.

    The signer is a throwaway certificate chain made here, named :data:`SKETCHBOOK`: no trust
    list holds it, so the ``c2pa`` detector reads the credentials as valid but untrusted,
    which still counts as consistent with a human-made declaration (issue #6). The signature
    differs on every run; the demo knows its works by creator and title, not by digest.
    """
    import c2pa
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from hallmark.crypto.c2pa_chain import issue_root, issue_signer

    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = issue_root(root_key, origin=SKETCHBOOK, now=now)
    leaf = issue_signer(root, root_key, key, origin=SKETCHBOOK, now=now)
    definition = {
        "claim_generator_info": [{"name": SKETCHBOOK, "version": "1.0"}],
        "title": title,
        "format": "image/png",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": OriginLabel.HUMAN_MADE.digital_source_type(),
                            "softwareAgent": SKETCHBOOK,
                        }
                    ]
                },
            }
        ],
    }
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256,
        leaf.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        None,
    )
    output = io.BytesIO()
    signer = c2pa.Signer.from_info(info)
    try:
        with c2pa.Builder(definition) as builder:
            builder.sign(signer, "image/png", io.BytesIO(png), output)
    finally:
        signer.close()
    return output.getvalue()


# Journals ------------------------------------------------------------------------------------


def _gap(rng: random.Random, previous: str) -> int:
    """Milliseconds before the next key: an uneven rhythm, slower after a sentence or a line."""
    gap = rng.lognormvariate(math.log(140), 0.45)
    if previous in ".!?:;":
        gap += rng.uniform(700, 2600)
    elif previous == "\n":
        gap += rng.uniform(1200, 5000)
    elif previous in " ,":
        gap += rng.uniform(0, 220)
    return int(min(gap, 30_000)) + 25


def journal_events(parts: Sequence[Part], *, seed: str, start_ms: int = 0) -> list[dict[str, Any]]:
    """The editor's journal for writing ``parts`` in order at the end of the text
    (docs/journal.md): keys one by one with the odd slip taken back, muse suggestions and
    pastes whole. The same seed gives the same journal."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    t, length, previous = start_ms, 0, "\n"

    def add(op: str, **fields: Any) -> None:
        events.append({"seq": len(events), "t": t, "op": op, **fields})

    for part in parts:
        if part.how != "typed":
            t += rng.randrange(2_500, 9_000)  # reading the suggestion, or switching windows
            add("muse" if part.how == "muse" else "paste", pos=length, text=part.text)
            length += len(part.text)
            previous = part.text[-1]
            continue
        for char in part.text:
            t += _gap(rng, previous)
            if char.isalpha() and rng.random() < 0.04:
                add("insert", pos=length, text=rng.choice("eatoinsrhl"), src="key")
                t += _gap(rng, "x") + 180
                add("delete", pos=length, len=1, src="key")
                t += _gap(rng, "x")
            add("insert", pos=length, text=char, src="key")
            length += 1
            previous = char
    return events


def text_of(parts: Sequence[Part]) -> str:
    return "".join(part.text for part in parts)


# The scenario --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on a work waiting for review, and the creator's appeal, if any."""

    decision: str
    reason: str
    days_ago: float
    appeal: str | None = None
    appeal_days_ago: float = 0.0


@dataclass(frozen=True)
class DemoWork:
    """One work of the demo: uploaded (``data``) or written in the editor (``parts``)."""

    title: str
    creator: str
    days_ago: float
    label: str
    filename: str = ""
    data: bytes = b""
    parts: tuple[Part, ...] = ()
    visibility: str = "public"
    ai_share: float | None = None
    statement: str | None = None
    #: Run the demo's analysis after registering (images: metadata, credentials, prior art).
    analyze: bool = False
    #: Sign the image with Content Credentials recording it as a digital creation first.
    content_credentials: bool = False
    revoke_days_ago: float | None = None
    decision: Decision | None = None


@dataclass(frozen=True)
class DemoDispute:
    """A creator disputes a later near-copy of their work, from the match analysis recorded."""

    claimant: str
    original: str
    copy: str
    copier: str
    statement: str
    days_ago: float


_STAND_IN = (
    "Demo data: {what} stands in for {made}; it is labelled to show how such works are registered."
)


def demo_works() -> list[DemoWork]:
    """The demo's works, oldest first: every label at every level, text and images."""
    orchard = draw_orchard()
    return [
        DemoWork(
            "Tide Tables", "marigold", 44.2, "human-made", "tide-tables.txt", TIDE_TABLES.encode()
        ),
        DemoWork(
            "Harbour Lights at Dusk",
            "marigold",
            41.6,
            "human-made",
            "harbour.png",
            draw_harbour_lights(),
            analyze=True,
        ),
        DemoWork(
            "The Lamplighter Takes a Day Off",
            DEMO_LOGIN,
            39.3,
            "human-made",
            "lamplighter.md",
            LAMPLIGHTER.encode(),
        ),
        DemoWork("Inventory of a Coat Pocket", "wren", 37.8, "human-made", parts=COAT_POCKET),
        DemoWork(
            "Notes from a Slow Train",
            "tern",
            35.1,
            "ai-assisted",
            "slow-train.txt",
            SLOW_TRAIN.encode(),
            ai_share=15,
            statement="Demo data: an assistant proposed alternatives for two lines.",
        ),
        DemoWork(
            "Orchard in Rows",
            DEMO_LOGIN,
            33.5,
            "human-made",
            "orchard.png",
            orchard,
            analyze=True,
            content_credentials=True,
            statement=f"Drawn in {SKETCHBOOK}, which signs what it saves with Content Credentials.",
        ),
        DemoWork(
            "Quiet Grid",
            "tern",
            31.0,
            "ai-assisted",
            "quiet-grid.png",
            draw_quiet_grid(),
            visibility="unlisted",
            ai_share=40,
            statement="Demo data: the palette was suggested by an assistant.",
            analyze=True,
        ),
        DemoWork(
            "The Cartographer's Apprentice",
            DEMO_LOGIN,
            29.4,
            "ai-assisted",
            parts=CARTOGRAPHER,
            statement="One sentence came from the muse; the journal counts it.",
        ),
        DemoWork(
            "Dune Study No. 3",
            DEMO_LOGIN,
            27.7,
            "ai-generated",
            "dunes.png",
            with_source_type(draw_dune_study(), "trainedAlgorithmicMedia"),
            statement=_STAND_IN.format(
                what="this drawing", made="an image made by a generative model"
            ),
            analyze=True,
        ),
        DemoWork(
            "First Draft of Spring",
            "marigold",
            26.2,
            "human-made",
            "crocus.txt",
            EARLY_CROCUS.encode(),
            revoke_days_ago=24.0,
        ),
        DemoWork(
            "Weather Report for a Small Kitchen",
            DEMO_LOGIN,
            24.9,
            "human-made",
            "kitchen.txt",
            KITCHEN_WEATHER.encode(),
            visibility="private",
        ),
        DemoWork(
            "Paper Lanterns",
            "tern",
            22.3,
            "ai-assisted",
            "lanterns.png",
            with_source_type(draw_paper_lanterns(), "compositeWithTrainedAlgorithmicMedia"),
            ai_share=35,
            statement=_STAND_IN.format(
                what="the glow on this drawing", made="light painted in by a generative model"
            ),
            analyze=True,
        ),
        DemoWork(
            "Letter to the Next Tenant",
            "wren",
            20.8,
            "human-made",
            parts=NEXT_TENANT,
            decision=Decision(
                "approved",
                "The pasted paragraph is from the writer's own notebook, dated two springs ago; "
                "the rest was typed in the editor at a person's pace. Approved as human-made.",
                18.0,
            ),
        ),
        DemoWork(
            "Listing Copy for a Teapot",
            "tern",
            18.5,
            "ai-generated",
            "teapot.txt",
            TEAPOT.encode(),
            statement=_STAND_IN.format(
                what="this text", made="product copy generated by a language model"
            ),
        ),
        DemoWork(
            "Night Shift at the Bakery",
            DEMO_LOGIN,
            16.4,
            "ai-assisted",
            parts=NIGHT_SHIFT,
            decision=Decision(
                "approved",
                "The pasted stanza is the writer's own, drafted in a phone note on the walk to "
                "work; the line from the muse is in the AI share. Approved.",
                13.5,
            ),
        ),
        DemoWork(
            "Five Small Instructions",
            "wren",
            14.2,
            "ai-generated",
            parts=FIVE_INSTRUCTIONS,
            statement=_STAND_IN.format(
                what="this list", made="lines suggested by the muse and accepted as they came"
            ),
        ),
        DemoWork(
            "Lullaby for a Server Room",
            "quill",
            12.0,
            "ai-generated",
            parts=SERVER_LULLABY,
            statement=_STAND_IN.format(
                what="this text", made="a poem generated in a chat window and pasted in"
            ),
            decision=Decision(
                "approved",
                "Declared as generated in full, which is what the journal shows: one paste. "
                "Approved as AI-generated.",
                10.0,
            ),
        ),
        DemoWork(
            "Evening Orchard",
            "quill",
            9.6,
            "human-made",
            "evening-orchard.png",
            near_copy(orchard),
            analyze=True,
        ),
        DemoWork("Small Hours", DEMO_LOGIN, 7.3, "human-made", parts=SMALL_HOURS),
        DemoWork(
            "What the Hedge Knows",
            "marigold",
            5.5,
            "human-made",
            parts=HEDGE,
            decision=Decision(
                "rejected",
                "Most of the poem arrived in one paste, and nothing shows where it was written. "
                "Upload the draft it came from, or write it again in the editor.",
                4.0,
                appeal="The stanza is from my notebook: I typed it into my phone on a walk and "
                "pasted it in. I can upload the phone note, which has its date.",
                appeal_days_ago=3.0,
            ),
        ),
        DemoWork(
            "A Short Guide to Puddles",
            DEMO_LOGIN,
            3.2,
            "human-made",
            "puddles.txt",
            PUDDLES.encode(),
        ),
    ]


DISPUTE = DemoDispute(
    claimant=DEMO_LOGIN,
    original="Orchard in Rows",
    copy="Evening Orchard",
    copier="quill",
    statement="I drew Orchard in Rows and registered it here weeks before this copy appeared; "
    "the copy is my drawing, cropped and brightened.",
    days_ago=1.4,
)
#: A draft the demo login has started in the editor and not submitted.
OPEN_DRAFT = ("Notes toward a poem about fog", FOG_NOTES, 0.6)


# Seeding -------------------------------------------------------------------------------------


class _Clock:
    """The demo's clock: each step moves it to that step's moment."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class _Seeding:
    inst: Instance
    clock: _Clock
    end: datetime
    users: dict[str, str] = field(default_factory=dict)

    def at(self, days_ago: float) -> datetime:
        return self.end - timedelta(days=days_ago)

    def user(self, handle: str) -> User:
        with self.inst.db.session() as session:
            user = session.get(User, self.users[handle])
            assert user is not None
            return user

    def work(self, creator: str, title: str) -> Work | None:
        with self.inst.db.session() as session:
            return session.scalar(
                select(Work).where(Work.creator_id == self.users[creator], Work.title == title)
            )


def has_works(inst: Instance) -> bool:
    with inst.db.session() as session:
        return session.scalar(select(Work.id).limit(1)) is not None


def _ensure_people(seeding: _Seeding) -> None:
    seeding.clock.now = seeding.at(HISTORY_DAYS)
    shared_hash: str | None = None
    for person in PEOPLE:
        with seeding.inst.db.session() as session:
            user = find_user(session, person.handle)
            created = user is None
            if user is None:
                # The accounts share one published password, so they share its hash too:
                # hashing it costs half a second each time (Argon2 is slow on purpose).
                user = create_user(
                    seeding.inst,
                    session,
                    person.handle,
                    role=person.role,
                    password=None if shared_hash else DEMO_PASSWORD,
                    display_name=person.display_name,
                )
                user.password_hash = shared_hash or user.password_hash
                shared_hash = user.password_hash
            seeding.users[person.handle] = user.id
        if created and person.role == "creator":
            consent.set_default(seeding.inst, user.id, person.consent, person.consent_policy_url)


def _register(seeding: _Seeding, work: DemoWork) -> int:
    if seeding.work(work.creator, work.title) is not None:
        return 0
    data = work.data
    if work.content_credentials:
        data = with_content_credentials(data, title=work.title, now=seeding.clock())
    register_work(
        seeding.inst,
        creator_id=seeding.users[work.creator],
        data=data,
        title=work.title,
        declare=work.label,
        ai_share=work.ai_share,
        visibility=work.visibility,
        filename=work.filename,
        statement=work.statement,
    )
    return 1


def _write(seeding: _Seeding, work: DemoWork) -> int:
    """Write the work in the editor, as its journal says, and submit it."""
    if seeding.work(work.creator, work.title) is not None:
        return 0
    submitted = seeding.clock()
    writer = seeding.user(work.creator)
    draft_id = _draft(seeding, writer, work.title, work.parts, finished=submitted)
    seeding.clock.now = submitted
    drafts.submit_draft(
        seeding.inst,
        draft_id,
        writer,
        title=work.title,
        declare=work.label,
        text=text_of(work.parts),
        ai_share=work.ai_share,
        visibility=work.visibility,
        report_public=True,
        statement=work.statement,
    )
    return 1


def _draft(
    seeding: _Seeding, writer: User, title: str, parts: Sequence[Part], *, finished: datetime
) -> str:
    """A draft holding the journal of ``parts``, its last key pressed half a minute before
    ``finished``; returns the draft's id."""
    events = journal_events(parts, seed=title)
    started = finished - timedelta(milliseconds=events[-1]["t"] + 30_000)
    offset = int(started.timestamp() * 1000)
    seeding.clock.now = started
    draft = drafts.start_draft(seeding.inst, writer.id, title)
    seeding.clock.now = finished - timedelta(seconds=30)
    timed = [{**event, "t": event["t"] + offset} for event in events]
    drafts.append_events(seeding.inst, draft.draft_id, writer, timed)
    return draft.draft_id


def _analyze(seeding: _Seeding, work: DemoWork) -> int:
    found = seeding.work(work.creator, work.title)
    if found is None:
        return 0
    with seeding.inst.db.session() as session:
        done = session.scalar(select(Analysis.id).where(Analysis.work_id == found.id).limit(1))
    if done is None:
        analysis.analyze_now(seeding.inst, found.id)
    return 0


def _revoke(seeding: _Seeding, work: DemoWork) -> int:
    found = seeding.work(work.creator, work.title)
    with seeding.inst.db.session() as session:
        current = session.get(Work, found.id) if found else None
        certificate = current.certificate if current else None
        if certificate is None or certificate.revocation is not None:
            return 0
        certificate_id = certificate.id
    revoke(
        seeding.inst,
        certificate_id=certificate_id,
        reason=REVOKE_REASON,
        actor=seeding.user(work.creator),
    )
    return 0


def _decide(seeding: _Seeding, work: DemoWork) -> int:
    found = seeding.work(work.creator, work.title)
    if found is None or work.decision is None or found.review_status != "pending":
        return 0
    review.decide(
        seeding.inst,
        found.id,
        seeding.user(REVIEWER),
        decision=work.decision.decision,
        reason=work.decision.reason,
    )
    return 0


def _appeal(seeding: _Seeding, work: DemoWork) -> int:
    found = seeding.work(work.creator, work.title)
    if found is None or work.decision is None or work.decision.appeal is None:
        return 0
    with seeding.inst.db.session() as session:
        appealed = session.scalar(select(Appeal.id).where(Appeal.work_id == found.id))
    if appealed is None and found.review_status == "rejected":
        review.appeal(
            seeding.inst, found.id, seeding.user(work.creator), message=work.decision.appeal
        )
    return 0


def _dispute(seeding: _Seeding, plan: DemoDispute) -> int:
    original = seeding.work(plan.claimant, plan.original)
    copy = seeding.work(plan.copier, plan.copy)
    if original is None or copy is None:
        return 0
    pair = {original.id, copy.id}
    with seeding.inst.db.session() as session:
        match = session.scalar(
            select(SimilarityMatch).where(
                SimilarityMatch.work_id.in_(pair), SimilarityMatch.matched_work_id.in_(pair)
            )
        )
        if match is None:
            logger.warning(
                "the prior-art check found no match between '%s' and '%s'; the demo has no "
                "dispute (are the similarity dependencies installed?)",
                plan.original,
                plan.copy,
            )
            return 0
        if session.scalar(select(Dispute.id).where(Dispute.match_id == match.id)) is not None:
            return 0
        match_id = match.id
    disputes.open_dispute(
        seeding.inst, seeding.user(plan.claimant), match_id=match_id, statement=plan.statement
    )
    return 0


def _open_draft(seeding: _Seeding, title: str, parts: Sequence[Part]) -> int:
    writer = seeding.user(DEMO_LOGIN)
    if any(d.title == title for d in drafts.list_drafts(seeding.inst, writer)):
        return 0
    _draft(seeding, writer, title, parts, finished=seeding.clock())
    return 0


Step = tuple[datetime, int, Callable[[], int]]


def _steps(seeding: _Seeding) -> list[Step]:
    """Every step of the demo's history with its moment, in the order they happen."""
    out: list[Step] = []

    def add(days_ago: float, action: Callable[[], int]) -> None:
        out.append((seeding.at(days_ago), len(out), action))

    for work in demo_works():
        add(work.days_ago, partial(_write if work.parts else _register, seeding, work))
        if work.analyze:
            # The analysis job runs a few minutes after the upload, as on a busy instance.
            add(work.days_ago - 0.003, partial(_analyze, seeding, work))
        if work.revoke_days_ago is not None:
            add(work.revoke_days_ago, partial(_revoke, seeding, work))
        if work.decision is not None:
            add(work.decision.days_ago, partial(_decide, seeding, work))
            if work.decision.appeal is not None:
                add(work.decision.appeal_days_ago, partial(_appeal, seeding, work))
    add(DISPUTE.days_ago, partial(_dispute, seeding, DISPUTE))
    title, parts, days_ago = OPEN_DRAFT
    add(days_ago, partial(_open_draft, seeding, title, parts))
    return sorted(out, key=lambda step: (step[0], step[1]))


def seed_demo(inst: Instance, *, now: datetime | None = None) -> int:
    """Create the demo's people, works and history that are missing; return how many works
    were added. ``now`` is where the history ends (default: the instance's clock).

    Safe to run again, and to resume after an interruption (see the module docstring).
    """
    end = now or inst.clock()
    clock = _Clock(end)
    settings = inst.settings.model_copy(
        update={
            "detectors": list(DEMO_DETECTORS),
            # The near-copy is found by the prior-art check, which this instance may have off.
            "similarity_index": inst.settings.similarity_index or "memory",
        }
    )
    seeder = dataclasses.replace(inst, settings=settings, clock=clock)
    seeding = _Seeding(seeder, clock, end)
    _ensure_people(seeding)
    added = 0
    try:
        for moment, _, action in _steps(seeding):
            clock.now = moment
            added += action()
    finally:
        analysis.shutdown(seeder)
    logger.info("seeded %d demo works", added)
    return added
