"""Broader English instruction families for ``data instruct --families broad`` (docs/finetuning.md#data-instruct).

The classic families (:data:`forgetlab.finetune.data.instruct.TEMPLATES`) are short
exact-answer drills. A model tuned only on them learns "answer a drill after a label"; these
families widen what an instruction looks like: questions over a written fact table,
rewriting (past tense, plural subject, expanded contractions), classification (sentiment of a
short written review, odd one out), extraction (the number, name or day in a sentence),
lists, definitions, comparisons (heavier, older) and a few answers of several sentences.

Every answer is computed from the tables below or written with its question, so each is
exact or clearly correct. All text was written for forgetlab; nothing is read from a dataset
and nothing comes from an evaluation pool (the builder checks the rows against ICL-vs-IF).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from forgetlab.finetune.data.calendar_words import DAYS, MONTHS

Template = Callable[[random.Random], tuple[str, str]]

NAMES = (
    "Amara", "Bruno", "Chen", "Dalia", "Emil", "Farah", "Goran", "Hana", "Ivo", "Jonas",
    "Keiko", "Lars", "Mira", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
)  # fmt: skip
CITIES = (
    "Oslo", "Lima", "Porto", "Leeds", "Nairobi", "Osaka", "Quito", "Graz", "Perth", "Turin",
)  # fmt: skip
PETS = ("a cat", "a dog", "a parrot", "two rabbits", "a tortoise", "no pets", "a goldfish")
JOBS = ("a nurse", "a pilot", "a baker", "a teacher", "an engineer", "a gardener", "a chef")

# (present, third person singular, past) of verbs used in the rewriting family.
VERBS = (
    ("walk", "walks", "walked"), ("go", "goes", "went"), ("eat", "eats", "ate"),
    ("write", "writes", "wrote"), ("buy", "buys", "bought"), ("see", "sees", "saw"),
    ("take", "takes", "took"), ("make", "makes", "made"), ("find", "finds", "found"),
    ("bring", "brings", "brought"), ("read", "reads", "read"), ("carry", "carries", "carried"),
    ("paint", "paints", "painted"), ("sing", "sings", "sang"), ("drive", "drives", "drove"),
)  # fmt: skip
OBJECTS = {
    "walk": "to the station", "go": "to the market", "eat": "a green apple",
    "write": "a short letter", "buy": "fresh bread", "see": "a red kite",
    "take": "the early train", "make": "a wooden chair", "find": "a silver key",
    "bring": "a warm blanket", "read": "the local paper", "carry": "a heavy box",
    "paint": "the garden gate", "sing": "a folk song", "drive": "a small van",
}  # fmt: skip
# (singular noun, plural noun) for the plural-subject rewrite.
NOUNS = (
    ("The farmer", "The farmers"), ("The child", "The children"), ("The nurse", "The nurses"),
    ("The fox", "The foxes"), ("The baby", "The babies"), ("The woman", "The women"),
    ("The student", "The students"), ("The mouse", "The mice"), ("The boss", "The bosses"),
)  # fmt: skip
CONTRACTIONS = (
    ("can't", "cannot"), ("don't", "do not"), ("it's", "it is"), ("we're", "we are"),
    ("they'll", "they will"), ("won't", "will not"), ("isn't", "is not"), ("I'm", "I am"),
    ("you've", "you have"), ("she's", "she is"), ("didn't", "did not"), ("let's", "let us"),
)  # fmt: skip
# Informal sentences for the formal rewrite; the answer expands every contraction above.
INFORMAL = (
    "I can't finish the report today.", "We're ready for the trip.",
    "They'll need more chairs.", "It's too late to call the plumber.",
    "She's sure the door is locked.", "Let's leave before the rain starts.",
    "I'm afraid the shop won't open.", "You've left your keys on the table.",
    "The printer isn't working again.", "We didn't get the parcel.",
    "They don't know the way to the hall.", "It's cold, so let's stay inside.",
)  # fmt: skip
POSITIVE = (
    "the staff were friendly", "the food arrived hot and tasty", "the room was spotless",
    "the price was fair", "I would gladly come back", "the view was wonderful",
    "delivery was quick", "it works perfectly",
)  # fmt: skip
NEGATIVE = (
    "the staff were rude", "the food arrived cold", "the room was dirty",
    "the price was far too high", "I will never come back", "the noise kept me awake",
    "delivery took three weeks", "it broke on the first day",
)  # fmt: skip
CATEGORIES = {
    "fruit": ("apple", "banana", "cherry", "mango", "pear", "plum", "grape", "peach"),
    "animal": ("horse", "tiger", "rabbit", "camel", "otter", "eagle", "wolf", "goat"),
    "tool": ("hammer", "wrench", "saw", "drill", "chisel", "shovel", "pliers", "rake"),
    "colour": ("red", "blue", "green", "purple", "orange", "brown", "pink", "grey"),
    "vehicle": ("bicycle", "truck", "tram", "canoe", "scooter", "ferry", "taxi", "tractor"),
    "instrument": ("violin", "drum", "flute", "piano", "guitar", "trumpet", "harp", "cello"),
}
DEFINITIONS = (
    ("thermometer", "An instrument that measures temperature."),
    ("library", "A place where books are kept for people to read or borrow."),
    ("bakery", "A shop where bread and cakes are made and sold."),
    ("island", "A piece of land with water all around it."),
    ("calendar", "A chart that shows the days, weeks and months of a year."),
    ("volcano", "A mountain through which melted rock and gas come up from inside the earth."),
    ("dictionary", "A book that lists words and explains what they mean."),
    ("umbrella", "A folding cover on a stick that keeps the rain off you."),
    ("orchard", "A piece of land where fruit trees are grown."),
    ("compass", "A tool with a needle that points north, used to find directions."),
    ("harbour", "A sheltered area of water where ships can stay safely."),
    ("recipe", "A set of instructions for cooking a dish."),
    ("glacier", "A large, slow-moving mass of ice."),
    ("telescope", "An instrument that makes distant things look closer."),
    ("pharmacy", "A shop where medicines are prepared and sold."),
    ("desert", "A large, dry area of land with very little rain."),
    ("passport", "An official document that lets a person travel to other countries."),
    ("helmet", "A hard hat that protects the head."),
)
# Rough masses in kilograms: every pair compared differs at least tenfold.
MASSES = (
    ("a paperclip", 0.001), ("a pencil", 0.01), ("an apple", 0.2), ("a brick", 3.0),
    ("a bicycle", 15.0), ("an adult human", 70.0), ("a horse", 500.0), ("a car", 1500.0),
    ("an elephant", 5000.0), ("a blue whale", 100000.0),
)  # fmt: skip
HOW_TO = (
    (
        "Explain in three short sentences how to make a cup of tea.",
        "Boil some water. Pour it over a tea bag in a cup and wait three minutes. "
        "Take the bag out and add milk or sugar if you like.",
    ),
    (
        "Give two reasons to wear a helmet when cycling, in two sentences.",
        "A helmet protects your head if you fall. It can turn a serious injury into a minor one.",
    ),
    (
        "Describe in two sentences what a plant needs to grow.",
        "A plant needs light, water and air. It also takes nutrients from the soil.",
    ),
    (
        "Explain in three short sentences how to plant a seed.",
        "Make a small hole in moist soil. Put the seed in and cover it lightly. "
        "Water it and keep it in a bright place.",
    ),
    (
        "Say in two sentences why people brush their teeth.",
        "Brushing removes food and plaque from the teeth. It helps prevent holes and gum disease.",
    ),
    (
        "Explain in two sentences why the sky gets dark at night.",
        "The Earth turns, so at night our side faces away from the Sun. "
        "Without direct sunlight the sky looks dark.",
    ),
    (
        "Give three short tips for saving water at home.",
        "Turn off the tap while you brush your teeth. Take shorter showers. "
        "Fix dripping taps quickly.",
    ),
    (
        "Describe in two sentences how to cross a busy road safely.",
        "Use a pedestrian crossing and wait for the green signal. "
        "Look both ways before you step out.",
    ),
)


def _people(rng: random.Random, k: int) -> list[tuple[str, int, str, str]]:
    names = rng.sample(NAMES, k)
    return [(n, rng.randint(18, 80), rng.choice(CITIES), rng.choice(PETS)) for n in names]


def _fact_qa(rng: random.Random) -> tuple[str, str]:
    people = _people(rng, 3)
    facts = " ".join(f"{n} is {a}, lives in {c} and has {p}." for n, a, c, p in people)
    n, a, c, p = rng.choice(people)
    q, ans = rng.choice(
        (
            (f"How old is {n}?", str(a)),
            (f"Where does {n} live?", c),
            (f"What pet does {n} have?", p),
        )
    )
    return f"Read the facts and answer. {facts} {q}", ans[0].upper() + ans[1:]


def _older(rng: random.Random) -> tuple[str, str]:
    (n1, a1, _, _), (n2, a2, _, _) = _people(rng, 2)
    while a2 == a1:
        a2 = rng.randint(18, 80)
    return f"{n1} is {a1} years old and {n2} is {a2}. Who is older?", n1 if a1 > a2 else n2


def _heavier(rng: random.Random) -> tuple[str, str]:
    (x, mx), (y, my) = rng.sample(MASSES, 2)
    word = rng.choice(("heavier", "lighter"))
    pick = x if (mx > my) == (word == "heavier") else y
    return f"Which is {word}, {x} or {y}?", pick[0].upper() + pick[1:]


def _past_tense(rng: random.Random) -> tuple[str, str]:
    base, third, past = rng.choice(VERBS)
    name = rng.choice(NAMES)
    return (
        f"Rewrite this sentence in the past tense: {name} {third} {OBJECTS[base]}.",
        f"{name} {past} {OBJECTS[base]}.",
    )


def _plural_subject(rng: random.Random) -> tuple[str, str]:
    sing, plur = rng.choice(NOUNS)
    base, third, _ = rng.choice(VERBS)
    return (
        f"Rewrite this sentence with a plural subject: {sing} {third} {OBJECTS[base]}.",
        f"{plur} {base} {OBJECTS[base]}.",
    )


def _expand(rng: random.Random) -> tuple[str, str]:
    informal = rng.choice(INFORMAL)
    formal = informal
    for short, full in CONTRACTIONS:
        formal = formal.replace(short, full).replace(short.capitalize(), full.capitalize())
    return f"Rewrite this more formally, without contractions: {informal}", formal


def _sentiment(rng: random.Random) -> tuple[str, str]:
    positive = rng.random() < 0.5
    parts = rng.sample(POSITIVE if positive else NEGATIVE, 2)
    review = f"{parts[0][0].upper()}{parts[0][1:]} and {parts[1]}."
    form = rng.choice(
        ("Is this review positive or negative? {}", "Classify the sentiment of this review: {}")
    )
    return form.format(review), "Positive" if positive else "Negative"


def _odd_one_out(rng: random.Random) -> tuple[str, str]:
    cat, other = rng.sample(sorted(CATEGORIES), 2)
    words = [*rng.sample(CATEGORIES[cat], 3), rng.choice(CATEGORIES[other])]
    odd = words[-1]
    rng.shuffle(words)
    return f"Which word does not belong: {', '.join(words)}?", odd


def _extract_number(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(2, 950)
    form = rng.choice(
        (
            "The ferry carried {} passengers across the bay.",
            "Our street has {} houses and one bakery.",
            "The old oak tree is about {} years old.",
            "She counted {} stars before falling asleep.",
        )
    )
    return f"Which number appears in this sentence? {form.format(n)}", str(n)


def _extract_name(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(NAMES)
    form = rng.choice(
        (
            "Yesterday {} fixed the kitchen radio.",
            "The prize for the best garden went to {}.",
            "After lunch, {} walked the neighbour's dog.",
        )
    )
    return f"Who is named in this sentence? {form.format(name)}", name


def _extract_date(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        day = rng.choice(DAYS)
        return f"Which day is mentioned here? The library opens late on {day}.", day
    month = rng.choice(MONTHS)
    return f"Which month is mentioned here? The swallows come back every {month}.", month


def _name_three(rng: random.Random) -> tuple[str, str]:
    cat = rng.choice(sorted(CATEGORIES))
    plural = {"fruit": "fruits", "colour": "colours"}.get(cat, cat + "s")
    items = rng.sample(CATEGORIES[cat], 3)
    return f"Name three {plural}.", f"{items[0].capitalize()}, {items[1]} and {items[2]}."


def _define(rng: random.Random) -> tuple[str, str]:
    word, meaning = rng.choice(DEFINITIONS)
    form = rng.choice(("Define the word '{}'.", "What does '{}' mean?"))
    return form.format(word), meaning


def _how_to(rng: random.Random) -> tuple[str, str]:
    return rng.choice(HOW_TO)


BROAD_TEMPLATES: dict[str, Template] = {
    "fact_qa": _fact_qa,
    "older": _older,
    "heavier": _heavier,
    "past_tense": _past_tense,
    "plural_subject": _plural_subject,
    "expand": _expand,
    "sentiment": _sentiment,
    "odd_one_out": _odd_one_out,
    "extract_number": _extract_number,
    "extract_name": _extract_name,
    "extract_date": _extract_date,
    "name_three": _name_three,
    "define": _define,
    "how_to": _how_to,
}
