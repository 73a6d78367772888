"""Synthetic works and the alterations a copier makes to them, for the similarity tests.

Texts are built from *frames* (who did what to which thing, where and when), each rendered by
one of several sentence templates with words picked from synonym groups, on one of a dozen
topics. Two texts from different seeds therefore share little more than English's glue words,
and a paraphrase can be made by rendering the same frames again with other templates and other
synonyms. Images are synthetic scenes (gradients, shapes, texture, lettering) drawn with Pillow.

Everything is seeded: the same seed gives the same work, so failures can be replayed.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

# Vocabulary --------------------------------------------------------------------------------


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(phrase.strip() for phrase in text.split("|"))


def _groups(text: str) -> tuple[tuple[str, ...], ...]:
    return tuple(_phrases(group) for group in text.split(";"))


@dataclass(frozen=True)
class Topic:
    """The things, places and people (by role) a topic's texts are about."""

    things: tuple[str, ...]
    places: tuple[str, ...]
    people: tuple[str, ...]


#: Topic words carry most of a text's meaning, so paraphrases keep them and unrelated texts (on
#: other topics, or other picks from the same one) mostly do not share them.
TOPICS: dict[str, Topic] = {
    "harbour": Topic(
        _phrases(
            "net | anchor | gull | sail | rope | buoy | crab | lantern | oar | keel | hull | "
            "tarpaulin | barrel | hook | mackerel"
        ),
        _phrases("harbour | pier | lighthouse | slipway | breakwater | fish market | boathouse"),
        _phrases("the fisherman | the harbour master | the ferryman | the net mender"),
    ),
    "kitchen": Topic(
        _phrases(
            "loaf | kettle | onion | saucepan | ladle | apron | dough | pepper mill | "
            "cutting board | jar of honey | colander | teapot | pie dish | whisk | lemon"
        ),
        _phrases("kitchen | pantry | larder | scullery | bakery | dining room | stove"),
        _phrases("the cook | the baker | my grandmother | the kitchen porter"),
    ),
    "mountain": Topic(
        _phrases(
            "rucksack | ice axe | compass | boulder | cairn | tent | rope ladder | map | "
            "water bottle | crampon | sleeping bag | walking pole | flask | headlamp | pine"
        ),
        _phrases("ridge | summit | glacier | mountain hut | scree slope | col | snowfield"),
        _phrases("the guide | the climber | the shepherd | the ranger"),
    ),
    "city": Topic(
        _phrases(
            "umbrella | newspaper | tram ticket | briefcase | bicycle | parking meter | "
            "street lamp | shop sign | taxi | coffee cup | pigeon | billboard | scooter | "
            "subway map | bus shelter"
        ),
        _phrases("station | crossroads | office block | arcade | square | underpass | market hall"),
        _phrases("the clerk | the commuter | the taxi driver | the newspaper seller"),
    ),
    "garden": Topic(
        _phrases(
            "spade | seedling | rose bush | trowel | wheelbarrow | watering can | pumpkin | "
            "beehive | compost heap | hedge | tomato plant | rake | snail | ivy | flowerpot"
        ),
        _phrases(
            "garden | greenhouse | orchard | allotment | potting shed | vegetable patch | lawn"
        ),
        _phrases("the gardener | my neighbour | the beekeeper | the old widow"),
    ),
    "music": Topic(
        _phrases(
            "violin | drum | piano | trumpet | metronome | music stand | bow | cello | songbook | "
            "tuning fork | microphone | harmonica | banjo | score | amplifier"
        ),
        _phrases(
            "concert hall | rehearsal room | bandstand | recording studio | stage | choir loft | "
            "jazz club"
        ),
        _phrases("the conductor | the drummer | the choir master | the pianist"),
    ),
    "school": Topic(
        _phrases(
            "notebook | chalk | atlas | satchel | exam paper | pencil case | globe | blackboard | "
            "dictionary | ruler | report card | textbook | microscope | bell | timetable"
        ),
        _phrases(
            "classroom | library | playground | lecture theatre | staff room | gymnasium | corridor"
        ),
        _phrases("the teacher | the headmistress | the pupil | the librarian"),
    ),
    "railway": Topic(
        _phrases(
            "suitcase | locomotive | carriage | signal | luggage trolley | whistle | passport | "
            "guidebook | postcard | timetable board | porter's cap | sleeper berth | "
            "ticket stub | steam engine | rail"
        ),
        _phrases(
            "platform | waiting room | ticket hall | signal box | sidings | level crossing | "
            "border post"
        ),
        _phrases("the stationmaster | the porter | the traveller | the signalman"),
    ),
    "night sky": Topic(
        _phrases(
            "telescope | comet | star chart | lens | meteor | eyepiece | tripod | "
            "notebook of sightings | planet | satellite | crescent moon | nebula | "
            "observatory dome | red torch | constellation"
        ),
        _phrases(
            "observatory | hilltop | rooftop | dark field | dome | edge of the desert | clearing"
        ),
        _phrases("the astronomer | my uncle | the night watchman | the student"),
    ),
    "hospital": Topic(
        _phrases(
            "bandage | stethoscope | syringe | thermometer | stretcher | pill bottle | x-ray | "
            "splint | wheelchair | clipboard | drip stand | pillow | chart | scalpel | blanket"
        ),
        _phrases(
            "ward | clinic | waiting area | operating theatre | pharmacy | night desk | "
            "ambulance bay"
        ),
        _phrases("the nurse | the surgeon | the porter | the young doctor"),
    ),
    "farm": Topic(
        _phrases(
            "tractor | hay bale | plough | milk churn | sheepdog | bucket | pitchfork | gate | "
            "hen | calf | scarecrow | sack of grain | trough | fence post | lamb"
        ),
        _phrases("barn | pasture | farmyard | cowshed | wheat field | dairy | stable"),
        _phrases("the farmer | the farmhand | my cousin | the vet"),
    ),
    "forest": Topic(
        _phrases(
            "fox | owl | fern | badger | acorn | mushroom | woodpecker | stag | log | squirrel | "
            "moss | hollow oak | beech | hare | birch"
        ),
        _phrases("forest | clearing | brook | thicket | woodland path | ravine | charcoal pit"),
        _phrases("the forester | the poacher | the woodcutter | the naturalist"),
    ),
}

NAMES = _phrases(
    "Mara | Tomas | Ines | Oskar | Leila | Bruno | Agnes | Felix | Nadia | Piet | Ruth | Emil | "
    "Sofia | Jonah | Clara | Viktor | Hanna | Marek | Elsa | Idris | Greta | Samir | Lotte | "
    "Anselm | Yara | Casimir | Dora | Kwame | Ilse | Ronan | Beatrix | Teodor | Mirela | Ulrich | "
    "Zofia | Lucien | Wanda | Hamid | Orla | Per"
)

# Synonym groups (members split by "|", groups by ";"): a frame picks a group, a rendering
# picks a member. A paraphrase picks another member of the same group.
Groups = tuple[tuple[str, ...], ...]
ADJECTIVES: Groups = _groups(
    "old | ancient | aged; small | little | tiny; large | big | huge; quiet | silent | hushed; "
    "cold | chilly | icy; bright | vivid | brilliant; dark | dim | gloomy; wet | damp | soaked; "
    "broken | cracked | damaged; heavy | weighty | hefty; strange | odd | peculiar; "
    "clean | spotless | tidy; dirty | filthy | grimy; new | fresh | brand-new; "
    "empty | bare | vacant; beautiful | lovely | handsome; worn | shabby | threadbare; "
    "warm | mild | balmy; noisy | loud | clamorous; crooked | bent | twisted; "
    "precious | valuable | treasured; fragile | delicate | flimsy; rusty | corroded | tarnished; "
    "enormous | vast | immense; narrow | slender | thin; familiar | well-known | recognisable"
)


def _verb(member: str) -> tuple[str, str]:
    past, _, participle = member.partition("/")
    return past, participle or past


#: Transitive verbs: members are "past/participle", or one form when both are the same.
VERBS = tuple(
    tuple(_verb(member) for member in group)
    for group in _groups(
        "carried | hauled | lugged; watched | observed | eyed; mended | repaired | fixed; "
        "found | discovered | came upon/come upon; cleaned | scrubbed | washed; "
        "hid/hidden | concealed | tucked away; painted | coloured | daubed; "
        "measured | gauged | sized up; lifted | raised | hoisted; wrapped | bundled | swaddled; "
        "sold | traded | bartered; guarded | protected | shielded; "
        "examined | inspected | scrutinised; dropped | let fall | spilled; "
        "borrowed | took/taken | made off with; photographed | sketched | drew/drawn; "
        "polished | buffed | shined; abandoned | left behind | deserted"
    )
)
INTRANSITIVE: Groups = _groups(
    "broke | snapped | cracked; arrived | appeared | turned up; fell | tumbled | toppled; "
    "stopped | halted | came to rest; vanished | disappeared | was gone; "
    "shook | trembled | shivered; glowed | shone | gleamed; rang | sounded | chimed; "
    "slipped | slid | skidded; creaked | groaned | squeaked; burned | blazed | caught fire; "
    "sank | went under | foundered"
)
FEELINGS: Groups = _groups(
    "loved | adored | cherished; feared | dreaded | was afraid of; "
    "distrusted | doubted | suspected; admired | respected | looked up to; "
    "missed | longed for | pined for; hated | loathed | detested; envied | coveted | begrudged"
)
TIMES: Groups = _groups(
    "at dawn | at first light | at daybreak; at dusk | at nightfall | at sundown; "
    "after supper | after the evening meal | once dinner was over; "
    "before the rain came | ahead of the rain | just before the downpour; "
    "on the first day of spring | when spring began | as spring arrived; "
    "every Sunday | each Sunday | on Sundays; "
    "long after midnight | deep in the night | in the small hours; "
    "in the late afternoon | late in the afternoon | toward evening; "
    "during the war | in wartime | while the war lasted; "
    "the following winter | the next winter | that winter after; "
    "at noon | at midday | in the middle of the day; "
    "on market day | when the market was on | the day of the fair"
)
PREPOSITIONS: Groups = _groups(
    "near | close to | by; behind | at the back of | beyond; inside | within | in; "
    "beside | next to | alongside; above | over | high above; below | beneath | under; "
    "opposite | across from | facing"
)
REASONS: Groups = _groups(
    "though nobody knew why | for reasons nobody understood | without ever saying why; "
    "because of an old promise | on account of an old promise | owing to a promise; "
    "since childhood | from early childhood | ever since youth; "
    "after the accident | since the accident | following the accident; "
    "as their mother had | like their mother before them | just as their mother did"
)
MOTIONS: Groups = _groups(
    "walked | strolled | ambled; ran | raced | dashed; climbed | scrambled | clambered; "
    "hurried | rushed | hastened; wandered | roamed | drifted; limped | hobbled | staggered"
)
ADVERBS: Groups = _groups(
    "slowly | gradually | unhurriedly; carefully | cautiously | gently; "
    "quickly | swiftly | rapidly; quietly | softly | silently; angrily | furiously | crossly; "
    "proudly | boastfully | with pride"
)
WEATHER: Groups = _groups(
    "the wind rose | a gale picked up | the breeze stiffened; "
    "rain fell | showers came | a drizzle set in; fog rolled in | mist gathered | a haze settled; "
    "snow began | the first flakes fell | snowfall started; "
    "the sun came out | sunshine broke through | the clouds parted; "
    "thunder rumbled | a storm broke | lightning flickered"
)
CONTAINERS: Groups = _groups(
    "box | case | chest; drawer | cabinet | bureau; tin | canister | can; "
    "basket | hamper | crate; sack | bag | pouch"
)
MOODS: Groups = _groups(
    "happy | glad | cheerful; sad | unhappy | downcast; nervous | anxious | uneasy; "
    "calm | serene | composed; curious | inquisitive | nosy; stubborn | obstinate | headstrong"
)
QUANTITIES = ("two", "three", "four", "five", "six", "seven", "a dozen", "twenty", "forty")

#: The synonym group each slot draws from.
SLOT_GROUPS: dict[str, Groups] = {
    "A": ADJECTIVES,
    "A2": ADJECTIVES,
    "A3": ADJECTIVES,
    "I": INTRANSITIVE,
    "F": FEELINGS,
    "T": TIMES,
    "R": PREPOSITIONS,
    "Y": REASONS,
    "M": MOTIONS,
    "D": ADVERBS,
    "W": WEATHER,
    "K": CONTAINERS,
    "E": MOODS,
}

#: Words a copier swaps in without regard to meaning (a disguise, not a paraphrase).
FILLER_WORDS = tuple(
    sorted(
        {
            word
            for groups in SLOT_GROUPS.values()
            for group in groups
            for member in group
            for word in member.split()
        }
        | {
            word
            for topic in TOPICS.values()
            for phrase in (*topic.things, *topic.places)
            for word in phrase.split()
        }
    )
)


# Texts -------------------------------------------------------------------------------------

# Templates of one kind say the same thing in other words; {S} is the subject, {O} and {O2}
# things, {Os} the plural of {O}, {P} a place, {N} a number, {V} and {Vpp} a verb's past and
# participle; the other slots are synonym groups (SLOT_GROUPS).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "act": (
        "{T}, {S} {V} the {A} {O} {R} the {P}.",
        "{S} {V} the {A} {O} {R} the {P} {T}.",
        "{R} the {P}, {S} {V} the {A} {O} {T}.",
        "The {A} {O} was {Vpp} by {S} {R} the {P} {T}.",
    ),
    "scene": (
        "The {P} was {A} and {A2}, and the {O} seemed {A3}.",
        "The {O} seemed {A3}, and the {P} was {A} and {A2}.",
        "With the {P} so {A} and {A2}, the {O} looked {A3}.",
        "It was a {A}, {A2} {P}, where even the {O} appeared {A3}.",
    ),
    "feeling": (
        "{S} had always {F} the {O}, {Y}.",
        "{Y}, {S} had always {F} the {O}.",
        "All through those years {S} {F} the {O} {Y}.",
    ),
    "event": (
        "When the {O} {I}, {S} {V} the {O2}.",
        "{S} {V} the {O2} as soon as the {O} {I}.",
        "The {O} {I}, so {S} {V} the {O2}.",
        "No sooner had the {O} {I} than {S} {V} the {O2}.",
    ),
    "count": (
        "There were {N} {Os} {R} the {P}, and most of them were {A}.",
        "{R} the {P} stood {N} {Os}, most of them {A}.",
        "Most of the {N} {Os} {R} the {P} were {A}.",
    ),
    "speech": (
        '"Mind the {O}," said {S}, "it is {A} and it has been {Vpp} before."',
        "{S} warned us that the {O} was {A} and had been {Vpp} before.",
        '"That {O} is {A}," {S} told us, "and somebody has {Vpp} it before."',
    ),
    "motion": (
        "{T}, {S} {M} {D} toward the {P}.",
        "{S} {M} {D} toward the {P} {T}.",
        "It was {T} that {S} {M} toward the {P}, {D}.",
    ),
    "weather": (
        "{T} {W}, and the {P} grew {A}.",
        "The {P} grew {A} when {W} {T}.",
        "{W} {T}, and soon the whole {P} was {A}.",
    ),
    "keep": (
        "{S} kept the {O} in a {K} {R} the {P}.",
        "In a {K} {R} the {P}, {S} kept the {O}.",
        "The {O} was kept by {S} in a {K} {R} the {P}.",
    ),
    "mood": (
        "{S} felt {E} that day, and {D} {V} the {O}.",
        "Feeling {E}, {S} {D} {V} the {O}.",
        "That day {S} was {E} and {V} the {O} {D}.",
    ),
    "question": (
        "Who had {Vpp} the {A} {O} {R} the {P}, {S} wondered.",
        "{S} wondered who had {Vpp} the {A} {O} {R} the {P}.",
        "Somebody had {Vpp} the {A} {O} {R} the {P}, and {S} wanted to know who.",
    ),
    "compare": (
        "The {O} was {A}, but the {O2} was even more so.",
        "Even more {A} than the {O} was the {O2}.",
        "However {A} the {O} was, the {O2} was more {A} still.",
    ),
    "memory": (
        "I still remember how {S} {V} the {O} {T}.",
        "How {S} {V} the {O} {T} is something I still remember.",
        "I have never forgotten the time {S} {V} the {O} {T}.",
    ),
}


@dataclass(frozen=True)
class Frame:
    """What one sentence says; :func:`render` turns it into words.

    ``kind`` chooses the family of templates; ``slots`` hold the nouns, names and places, and
    for every synonym slot the index of its group; ``template`` and ``pick`` choose the
    template and the member of each synonym group.
    """

    kind: str
    slots: dict[str, str | int]
    template: int
    pick: int


def _plural(noun: str) -> str:
    head, _, last = noun.rpartition(" ")
    if last.endswith(("s", "sh", "ch", "x")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}".strip()


@dataclass(frozen=True)
class Cast:
    """The people, things and places one work is about: a few of its topic's.

    Real texts keep returning to their own few characters and objects; drawing them per work
    keeps two works on one topic from sharing every noun phrase of the topic.
    """

    people: tuple[str, ...]
    things: tuple[str, ...]
    places: tuple[str, ...]


def _cast(rng: random.Random, topic: Topic) -> Cast:
    return Cast(
        (*rng.sample(NAMES, 3), rng.choice(topic.people)),
        tuple(rng.sample(topic.things, 6)),
        tuple(rng.sample(topic.places, 2)),
    )


def _frame(rng: random.Random, cast: Cast) -> Frame:
    kind = rng.choice(tuple(TEMPLATES))
    first, second = rng.sample(cast.things, 2)
    slots: dict[str, str | int] = {
        "S": rng.choice(cast.people),
        "O": first,
        "O2": second,
        "P": rng.choice(cast.places),
        "N": rng.choice(QUANTITIES),
        "V": rng.randrange(len(VERBS)),
    }
    slots |= {slot: rng.randrange(len(groups)) for slot, groups in SLOT_GROUPS.items()}
    return Frame(kind, slots, rng.randrange(len(TEMPLATES[kind])), rng.randrange(3))


def render(frame: Frame) -> str:
    """The sentence a frame says, capitalized."""
    s, pick = frame.slots, frame.pick
    verb = VERBS[int(s["V"])][pick]
    # Each slot starts from its own offset so that one pick does not mean the first synonym
    # everywhere.
    words = {
        slot: groups[int(s[slot])][(pick + offset) % 3]
        for offset, (slot, groups) in enumerate(SLOT_GROUPS.items())
    }
    words |= {key: str(s[key]) for key in ("S", "O", "O2", "P", "N")}
    words |= {"Os": _plural(str(s["O"])), "V": verb[0], "Vpp": verb[1]}
    sentence = TEMPLATES[frame.kind][frame.template].format(**words)
    # The first letter may sit after an opening quote.
    at = 1 if sentence.startswith('"') else 0
    return sentence[:at] + sentence[at].upper() + sentence[at + 1 :]


@dataclass(frozen=True)
class Work:
    """A synthetic text: paragraphs of frames, and the text they render to."""

    topic: str
    paragraphs: tuple[tuple[Frame, ...], ...]

    @property
    def text(self) -> str:
        return "\n\n".join(" ".join(render(f) for f in para) for para in self.paragraphs)


def make_work(seed: int, words: int = 150, topic: str | None = None) -> Work:
    """A text of about ``words`` words (never fewer) on ``topic`` (random when not given)."""
    rng = random.Random(seed)
    topic = topic or rng.choice(tuple(TOPICS))
    cast = _cast(rng, TOPICS[topic])
    paragraphs: list[tuple[Frame, ...]] = []
    count = 0
    while count < words:
        para = tuple(_frame(rng, cast) for _ in range(rng.randint(3, 6)))
        paragraphs.append(para)
        count += sum(len(render(f).split()) for f in para)
    return Work(topic, tuple(paragraphs))


def make_corpus(count: int, words: int = 150, seed: int = 0) -> list[Work]:
    """``count`` unrelated works, topics taken in turn so every topic appears."""
    topics = list(TOPICS)
    return [
        make_work(seed * 100_003 + i, words, topics[(seed + i) % len(topics)]) for i in range(count)
    ]


# Alterations of texts ----------------------------------------------------------------------


def paraphrase(work: Work, seed: int) -> str:
    """The same frames said again with other templates and other synonyms.

    Topic nouns, names and numbers stay (a paraphrase keeps what the text is about); every
    synonym group gets another member, and every sentence another template of its kind.
    """
    rng = random.Random(seed)

    def again(frame: Frame) -> Frame:
        templates = len(TEMPLATES[frame.kind])
        template = (frame.template + rng.randrange(1, templates)) % templates
        return replace(frame, template=template, pick=(frame.pick + rng.randrange(1, 3)) % 3)

    return "\n\n".join(" ".join(render(again(f)) for f in para) for para in work.paragraphs)


_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*")
# Between sentences: after terminal punctuation (perhaps closing a quote), before a capital.
_SENTENCE_BREAK = re.compile(r'(?:(?<=[.!?])|(?<=[.!?]"))\s+(?=["A-Z])')


def replace_words(text: str, share: float, seed: int) -> str:
    """``text`` with ``share`` of its words swapped for random words (punctuation kept)."""
    rng = random.Random(seed)
    spans = [m.span() for m in _TOKEN.finditer(text)]
    chosen = sorted(rng.sample(spans, round(share * len(spans))))
    out, last = [], 0
    for start, end in chosen:
        out += [text[last:start], rng.choice(FILLER_WORDS)]
        last = end
    return "".join([*out, text[last:]])


def _split_sentences(paragraph: str) -> list[str]:
    return _SENTENCE_BREAK.split(paragraph.strip())


def reorder_sentences(text: str, seed: int) -> str:
    """``text`` with its sentences shuffled within each paragraph, and paragraphs shuffled."""
    rng = random.Random(seed)
    paragraphs = [_split_sentences(p) for p in text.split("\n\n")]
    for para in paragraphs:
        rng.shuffle(para)
    rng.shuffle(paragraphs)
    return "\n\n".join(" ".join(p) for p in paragraphs)


def drop_sentences(text: str, share: float, seed: int) -> str:
    """``text`` without ``share`` of its sentences (at least one is always kept)."""
    rng = random.Random(seed)
    paragraphs = [_split_sentences(p) for p in text.split("\n\n")]
    where = [(i, j) for i, para in enumerate(paragraphs) for j in range(len(para))]
    gone = set(rng.sample(where, min(len(where) - 1, round(share * len(where)))))
    kept = [
        " ".join(s for j, s in enumerate(para) if (i, j) not in gone)
        for i, para in enumerate(paragraphs)
    ]
    return "\n\n".join(p for p in kept if p)


def drop_paragraph(text: str, seed: int) -> str:
    """``text`` without one of its paragraphs (unchanged when it has only one)."""
    paragraphs = text.split("\n\n")
    if len(paragraphs) < 2:
        return text
    del paragraphs[random.Random(seed).randrange(len(paragraphs))]
    return "\n\n".join(paragraphs)


def restyle(text: str, seed: int) -> str:
    """``text`` with the same words in other clothes: case, punctuation, quotes, spacing."""
    rng = random.Random(seed)
    out = text.replace('"', rng.choice(["“", "«", "'"]))
    out = re.sub(r",", lambda _: rng.choice([",", " ,", ";", " -", ""]), out)
    out = re.sub(r"\.(\s|$)", lambda m: rng.choice([".", "!", "...", " ."]) + m.group(1), out)
    out = re.sub(r" ", lambda _: rng.choice([" ", " ", " ", "  ", "\n", "\u00a0"]), out)
    out = out.replace("\n\n", rng.choice(["\n", "\n\n\n", "\r\n\r\n"]))
    mode = rng.randrange(3)
    if mode == 0:
        return out.upper()
    if mode == 1:
        return out.lower()
    return re.sub(r"\w+", lambda m: m.group().title() if rng.random() < 0.3 else m.group(), out)


def embed_passage(passage: str, host: str, seed: int) -> str:
    """``passage`` inserted between two sentences of a longer ``host`` text."""
    sentences = _split_sentences(host.replace("\n\n", " "))
    where = random.Random(seed).randrange(1, len(sentences))
    return " ".join([*sentences[:where], passage.replace("\n\n", " "), *sentences[where:]])


# Images ------------------------------------------------------------------------------------


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return r, g, b


def make_image(seed: int, size: tuple[int, int] | None = None) -> Image.Image:
    """A synthetic RGB scene: a gradient, shapes, a texture patch and a word or two."""
    rng = np.random.default_rng(seed)
    width, height = size or (int(rng.integers(240, 640)), int(rng.integers(240, 640)))
    # The background: a linear or radial gradient between two colours.
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        t = (x / width - 0.5) * np.cos(angle) + (y / height - 0.5) * np.sin(angle) + 0.5
    else:
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        t = np.hypot(x - cx, y - cy) / max(width, height)
    t = np.clip(t, 0, 1)[..., None]
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    pixels = (a * (1 - t) + b * t).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 12))):
        x0, x1 = sorted(rng.uniform(-0.1, 1.1, 2) * width)
        y0, y1 = sorted(rng.uniform(-0.1, 1.1, 2) * height)
        shape = rng.integers(4)
        if shape == 0:
            draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
        elif shape == 1:
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
        elif shape == 2:
            points = [
                (float(px), float(py)) for px, py in rng.uniform(0, 1, (5, 2)) * (width, height)
            ]
            draw.polygon(points, fill=_colour(rng))
        else:
            draw.line((x0, y0, x1, y1), fill=_colour(rng), width=int(rng.integers(3, 20)))
    # A patch of texture, as photographs have (grass, fabric, gravel).
    px0, py0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    patch = np.asarray(image)[py0 : py0 + height // 3, px0 : px0 + width // 3].astype(np.int16)
    noise = rng.integers(-40, 41, patch.shape, dtype=np.int16)
    textured = np.asarray(image).copy()
    textured[py0 : py0 + patch.shape[0], px0 : px0 + patch.shape[1]] = np.clip(
        patch + noise, 0, 255
    ).astype(np.uint8)
    image = Image.fromarray(textured, "RGB")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(rng.integers(18, 48)))
    word = rng.choice(["HARBOUR", "Studio", "no. 7", "Sunday", "OPEN", "Atlas", "Rue 12"])
    draw.text(
        (float(rng.uniform(0, width * 0.6)), float(rng.uniform(0, height * 0.8))),
        str(word),
        fill=_colour(rng),
        font=font,
    )
    return image


def encode(image: Image.Image, kind: str = "PNG", quality: int = 95) -> bytes:
    """``image`` as file bytes."""
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=quality)
    else:
        image.save(out, kind)
    return out.getvalue()


def resize(image: Image.Image, factor: float) -> Image.Image:
    """``image`` scaled by ``factor`` (both sides)."""
    width, height = image.size
    return image.resize(
        (max(8, round(width * factor)), max(8, round(height * factor))), Image.Resampling.BICUBIC
    )


def crop(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """``image`` with the given share of its width or height cut from each side."""
    width, height = image.size
    return image.crop(
        (
            round(left * width),
            round(top * height),
            round(width * (1 - right)),
            round(height * (1 - bottom)),
        )
    )


def random_crop(image: Image.Image, seed: int, most: float = 0.10) -> Image.Image:
    """``image`` cropped by up to ``most`` on each side; one side always loses ``most``."""
    rng = random.Random(seed)
    sides = [rng.uniform(0, most) for _ in range(4)]
    sides[rng.randrange(4)] = most
    return crop(image, *sides)


def mirror(image: Image.Image) -> Image.Image:
    """``image`` flipped left to right."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def recolour(image: Image.Image, seed: int) -> Image.Image:
    """``image`` a little brighter or darker, more or less saturated, with a slight tint."""
    rng = random.Random(seed)
    out = ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.75, 1.25))
    out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.9, 1.1))
    tint = np.array([rng.uniform(-12, 12) for _ in range(3)], dtype=np.float32)
    pixels = np.clip(np.asarray(out, dtype=np.float32) + tint, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def caption_bar(
    image: Image.Image, text: str = "Photo: A. Copier, all rights reserved"
) -> Image.Image:
    """``image`` with an opaque bar of caption text across its bottom tenth."""
    out = image.convert("RGB")
    width, height = out.size
    draw = ImageDraw.Draw(out)
    bar = max(12, height // 10)
    draw.rectangle((0, height - bar, width, height), fill=(20, 20, 20))
    font = ImageFont.load_default(size=max(8, bar // 2))
    draw.text((bar // 3, height - bar + bar // 4), text, fill=(240, 240, 240), font=font)
    return out


def watermark(image: Image.Image, text: str = "© COPYSHOP") -> Image.Image:
    """``image`` with large half-transparent text stamped over its middle."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    width, height = base.size
    font = ImageFont.load_default(size=max(10, width // 10))
    ImageDraw.Draw(layer).text(
        (width // 6, height // 2 - width // 20), text, fill=(255, 255, 255, 110), font=font
    )
    return Image.alpha_composite(base, layer).convert("RGB")


# Embedders for tests -----------------------------------------------------------------------


class WordHashEmbedder:
    """A cheap, deterministic stand-in for MiniLM: hashed bag of words, unit length.

    For tests of the fingerprint's plumbing (shapes, chunking, batching), where what the
    vectors mean is not the point. The robustness tests use the real model.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "big") % self.dim] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-12)
        return out


class CachingEmbedder:
    """Another embedder, remembering every chunk it has embedded.

    Altered copies share many chunks with their originals (a restyled text has the very same
    ones); embedding each distinct chunk once keeps the robustness tests quick.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({text for text in texts if text not in self.cache})
        if missing:
            self.cache.update(zip(missing, self.inner.embed(missing), strict=True))
        return np.stack([self.cache[text] for text in texts]) if texts else np.zeros((0, 384))
