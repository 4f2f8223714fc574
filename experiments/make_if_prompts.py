"""Write the instruction-following benchmark's prompts (src/forgetlab/data/ifeval/prompts.jsonl).

The 160 everyday tasks below, each with three topical words, were written for forgetlab.
Each task gets one to three verifiable instructions: the number is drawn (seeded), and each
instruction is the least-used type so far among those compatible with the ones the prompt
already has (so every type appears about equally often and no prompt asks for two things
that cannot both hold, such as JSON without commas). Instruction wordings follow IFEval's
style (Zhou et al. 2023) and were written here. The output is committed; rerunning this
script rewrites the same file byte for byte.

    python experiments/make_if_prompts.py [--check]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src/forgetlab/data/ifeval/prompts.jsonl"
SEED = 24

# (task, three topical words used for keyword instructions)
TASKS: list[tuple[str, tuple[str, str, str]]] = [
    (
        "Write a note to your neighbour asking them to water your plants while you are away for a week.",
        ("plants", "water", "week"),
    ),
    ("Explain to a ten-year-old why the sky looks blue during the day.", ("light", "sky", "sun")),
    ("Describe how to make a simple cup of tea.", ("kettle", "tea", "cup")),
    (
        "Give advice to someone who is nervous about their first day at a new job.",
        ("colleagues", "nervous", "questions"),
    ),
    ("Write a short review of a bicycle you bought last month.", ("bicycle", "brakes", "price")),
    (
        "Summarise the benefits of walking for thirty minutes every day.",
        ("health", "walking", "heart"),
    ),
    ("Write an email to a landlord reporting a leaking kitchen tap.", ("tap", "kitchen", "repair")),
    ("Describe your ideal weekend.", ("weekend", "morning", "friends")),
    (
        "Explain how a library card works to someone who has never used one.",
        ("library", "books", "card"),
    ),
    (
        "Write a short story about a lost umbrella that finds its way home.",
        ("umbrella", "rain", "home"),
    ),
    ("Give tips for keeping a small apartment tidy.", ("apartment", "storage", "clutter")),
    ("Explain the difference between weather and climate.", ("weather", "climate", "years")),
    (
        "Write a thank-you message to a teacher at the end of the school year.",
        ("teacher", "class", "thank"),
    ),
    ("Describe how to plant tomato seeds in a pot.", ("soil", "seeds", "pot")),
    ("Write a product description for a reusable water bottle.", ("bottle", "steel", "water")),
    (
        "Suggest a plan for learning to cook five new dishes in a month.",
        ("recipes", "cook", "month"),
    ),
    ("Explain why people should back up their computer files.", ("backup", "files", "computer")),
    ("Write a short speech to welcome new members to a chess club.", ("chess", "club", "welcome")),
    ("Describe the steps for changing a flat bicycle tyre.", ("tyre", "pump", "wheel")),
    ("Give advice on how to save money on groceries.", ("groceries", "list", "budget")),
    ("Write a postcard to a friend from a seaside town.", ("beach", "sea", "postcard")),
    ("Explain how to prepare for a job interview.", ("interview", "company", "practice")),
    ("Describe a rainy afternoon in a city.", ("rain", "streets", "umbrellas")),
    (
        "Write a complaint to a shop about a toaster that stopped working.",
        ("toaster", "refund", "receipt"),
    ),
    ("Explain what a budget is and why households use one.", ("budget", "income", "expenses")),
    ("Write a short poem about autumn leaves.", ("leaves", "autumn", "wind")),
    ("Give instructions for folding a paper aeroplane.", ("paper", "fold", "wings")),
    ("Describe what makes a good neighbour.", ("neighbour", "kind", "help")),
    ("Write a reminder for a team about tomorrow's meeting.", ("meeting", "agenda", "tomorrow")),
    ("Explain how to take care of a goldfish.", ("goldfish", "tank", "food")),
    ("Suggest five activities for a family on a snowy day.", ("snow", "family", "games")),
    ("Write a review of a café you visited recently.", ("coffee", "cafe", "staff")),
    ("Explain how recycling helps the environment.", ("recycling", "waste", "plastic")),
    ("Describe the first time you rode a train.", ("train", "station", "window")),
    (
        "Write a birthday message for a grandmother turning eighty.",
        ("birthday", "grandmother", "love"),
    ),
    ("Give advice on how to sleep better.", ("sleep", "bed", "screens")),
    ("Explain what a map legend is for.", ("map", "symbols", "legend")),
    ("Write a short announcement about a bake sale at a school.", ("cakes", "school", "sale")),
    ("Describe how to wash a wool sweater by hand.", ("wool", "sweater", "water")),
    ("Explain why the moon seems to change shape during the month.", ("moon", "sun", "phases")),
    ("Write an invitation to a picnic in the park.", ("picnic", "park", "sandwiches")),
    ("Give tips for studying for an exam.", ("exam", "notes", "breaks")),
    ("Describe a busy market on a Saturday morning.", ("market", "fruit", "stalls")),
    ("Write an apology to a friend for missing their party.", ("party", "sorry", "friend")),
    ("Explain how to read a bus timetable.", ("bus", "timetable", "stop")),
    ("Suggest ways to make a long car journey fun for children.", ("car", "children", "games")),
    ("Write a short biography of a fictional baker named Rosa.", ("Rosa", "bread", "bakery")),
    ("Explain what happens when water boils.", ("water", "steam", "temperature")),
    ("Describe how to set a dinner table for guests.", ("plates", "forks", "guests")),
    (
        "Give advice to someone learning to ride a bike as an adult.",
        ("balance", "bike", "practice"),
    ),
    (
        "Write a message asking a colleague to cover your shift on Friday.",
        ("shift", "Friday", "cover"),
    ),
    ("Explain why exercise improves mood.", ("exercise", "mood", "body")),
    ("Describe a lighthouse at night.", ("lighthouse", "light", "waves")),
    ("Write a list of things to pack for a weekend camping trip.", ("tent", "camping", "torch")),
    ("Explain how a refrigerator keeps food cold.", ("refrigerator", "food", "cold")),
    ("Write a short fable about a tortoise who wanted to fly.", ("tortoise", "fly", "birds")),
    ("Give advice on choosing a first pet.", ("pet", "time", "space")),
    ("Describe the smell and sound of a bakery in the morning.", ("bread", "oven", "morning")),
    ("Write an out-of-office reply for a two-week holiday.", ("holiday", "office", "return")),
    ("Explain what a volcano is.", ("volcano", "lava", "earth")),
    ("Suggest a simple weekly exercise routine for beginners.", ("routine", "exercise", "rest")),
    ("Write a letter to your future self ten years from now.", ("future", "years", "hope")),
    ("Explain how to write a good shopping list.", ("list", "shop", "items")),
    ("Describe a garden in spring.", ("garden", "flowers", "spring")),
    (
        "Write a short note to a delivery driver about where to leave a parcel.",
        ("parcel", "door", "driver"),
    ),
    ("Explain why bees are important for farming.", ("bees", "flowers", "crops")),
    ("Give tips for staying focused while working from home.", ("work", "home", "focus")),
    ("Write a review of a board game you enjoy.", ("game", "players", "rules")),
    ("Describe how to make a paper lantern.", ("paper", "lantern", "glue")),
    ("Explain the rules of rock, paper, scissors.", ("rock", "paper", "scissors")),
    (
        "Write a message congratulating a friend on a new baby.",
        ("baby", "congratulations", "family"),
    ),
    ("Suggest ways to reduce noise in a shared flat.", ("noise", "flat", "neighbours")),
    ("Explain what compost is and how to start a compost heap.", ("compost", "garden", "waste")),
    ("Write a short story about a cat who runs a bookshop.", ("cat", "books", "shop")),
    ("Describe how to prepare a simple vegetable soup.", ("soup", "vegetables", "pot")),
    ("Give advice for a first-time visitor to a large museum.", ("museum", "map", "time")),
    (
        "Write a notice asking residents to keep a stairwell clear.",
        ("stairs", "residents", "safety"),
    ),
    ("Explain how seasons happen on Earth.", ("earth", "sun", "seasons")),
    ("Describe a thunderstorm from inside a house.", ("thunder", "window", "lightning")),
    (
        "Write a short welcome message for a new website about gardening.",
        ("garden", "website", "welcome"),
    ),
    ("Explain how to treat a small cut on your finger.", ("cut", "water", "plaster")),
    ("Suggest healthy snacks for a long day at work.", ("snacks", "fruit", "nuts")),
    ("Write an email asking a librarian to renew two books.", ("books", "renew", "library")),
    ("Describe what a good breakfast looks like.", ("breakfast", "eggs", "fruit")),
    ("Explain why it is important to drink enough water.", ("water", "body", "day")),
    ("Write a short scene where two friends plan a road trip.", ("road", "trip", "map")),
    ("Give advice on keeping houseplants alive in winter.", ("plants", "winter", "light")),
    ("Describe the view from the top of a hill at sunset.", ("sunset", "hill", "sky")),
    ("Write a message to a sports team after losing a match.", ("team", "match", "proud")),
    (
        "Explain how to use a washing machine for the first time.",
        ("machine", "clothes", "detergent"),
    ),
    ("Suggest ideas for a rainy-day picnic indoors.", ("picnic", "indoors", "blanket")),
    ("Write a short letter to a pen pal in another country.", ("country", "school", "letter")),
    ("Explain what a calendar year is.", ("year", "days", "calendar")),
    ("Describe how to brush your teeth properly.", ("teeth", "brush", "minutes")),
    ("Write a notice about a lost dog in the neighbourhood.", ("dog", "lost", "collar")),
    ("Give advice on writing a polite email.", ("email", "polite", "subject")),
    ("Explain how trees help cities.", ("trees", "shade", "air")),
    ("Write a short story about a robot learning to paint.", ("robot", "paint", "colours")),
    ("Describe how to make pancakes.", ("pancakes", "flour", "pan")),
    ("Suggest ways to meet new people in a new town.", ("town", "clubs", "people")),
    ("Write a review of a park you like to walk in.", ("park", "paths", "trees")),
    ("Explain how rainbows form.", ("rainbow", "light", "rain")),
    ("Give tips for a long flight.", ("flight", "water", "sleep")),
    (
        "Write a message to a neighbour inviting them for coffee.",
        ("coffee", "neighbour", "afternoon"),
    ),
    ("Describe the sounds of a forest in the early morning.", ("forest", "birds", "morning")),
    ("Explain why we should wash our hands before eating.", ("hands", "soap", "germs")),
    ("Write a short diary entry about a day at the zoo.", ("zoo", "animals", "day")),
    ("Suggest a reading list theme for a book club.", ("books", "club", "theme")),
    ("Explain how to keep a bicycle in good condition.", ("bicycle", "chain", "oil")),
    ("Describe a cosy evening at home in winter.", ("winter", "blanket", "tea")),
    ("Write an email to a colleague sharing notes from a meeting.", ("notes", "meeting", "tasks")),
    ("Give advice on preparing for a long hike.", ("hike", "boots", "water")),
    (
        "Explain what a thermometer measures and how to read one.",
        ("thermometer", "temperature", "degrees"),
    ),
    ("Write a short poem about the sea.", ("sea", "waves", "salt")),
    ("Describe how to clean a kitchen after cooking.", ("kitchen", "dishes", "surfaces")),
    ("Suggest ways to be kinder to the environment at home.", ("energy", "waste", "home")),
    ("Write a message to a friend recommending a film.", ("film", "story", "watch")),
    ("Explain how to measure the length of a room.", ("room", "tape", "metres")),
    ("Give tips for taking better photographs with a phone.", ("phone", "light", "photos")),
    (
        "Write a short story about a child who finds a map in the attic.",
        ("map", "attic", "treasure"),
    ),
    ("Describe a festival in a small village.", ("village", "music", "festival")),
    ("Explain why the ocean is salty.", ("ocean", "salt", "rivers")),
    (
        "Write a welcome note for guests staying in a holiday cottage.",
        ("cottage", "guests", "keys"),
    ),
    ("Give advice for a student moving into a shared house.", ("house", "rent", "housemates")),
    ("Describe how to make a sandwich for a packed lunch.", ("bread", "lunch", "cheese")),
    ("Explain what a good password looks like.", ("password", "letters", "account")),
    (
        "Write a short message cancelling a dentist appointment.",
        ("appointment", "dentist", "cancel"),
    ),
    ("Suggest a routine for a calm morning before work.", ("morning", "routine", "breakfast")),
    ("Explain how a bicycle's gears make climbing hills easier.", ("gears", "hills", "pedal")),
    ("Write a short story about a snowman who wants to see summer.", ("snowman", "summer", "sun")),
    ("Describe the inside of an old library.", ("library", "shelves", "dust")),
    ("Give tips for speaking in front of a class.", ("class", "speak", "practice")),
    (
        "Write a note to a babysitter with instructions for the evening.",
        ("bedtime", "dinner", "phone"),
    ),
    ("Explain what a recipe is and how to follow one.", ("recipe", "ingredients", "steps")),
    ("Describe a walk along a river.", ("river", "path", "ducks")),
    ("Suggest ways to remember people's names.", ("names", "remember", "people")),
    (
        "Write a message thanking a neighbour for returning your lost keys.",
        ("keys", "neighbour", "thank"),
    ),
    ("Explain how to plan a small birthday party.", ("party", "guests", "cake")),
    ("Give advice on learning a new language as an adult.", ("language", "words", "practice")),
    ("Describe what you would see in a busy train station.", ("station", "trains", "people")),
    ("Write a short story about a kite that escapes into the sky.", ("kite", "wind", "sky")),
    ("Explain why leaves change colour in autumn.", ("leaves", "autumn", "colour")),
    ("Write a message to a coworker welcoming them back from leave.", ("welcome", "team", "back")),
    ("Suggest ways to spend less time on a phone.", ("phone", "time", "screen")),
    ("Describe how to pack a suitcase efficiently.", ("suitcase", "clothes", "space")),
    ("Explain what a fire drill is and why schools hold them.", ("fire", "drill", "safety")),
    ("Write a short review of a book you read as a child.", ("book", "story", "child")),
    ("Give advice on keeping a tidy desk.", ("desk", "drawers", "papers")),
    ("Describe a snowy morning in a small town.", ("snow", "town", "morning")),
    ("Write an email inviting a speaker to a community event.", ("event", "speaker", "community")),
    ("Explain how to make a cup of hot chocolate.", ("chocolate", "milk", "cup")),
    ("Suggest games that need only a pencil and paper.", ("pencil", "paper", "games")),
    (
        "Write a short story about a lighthouse keeper's last night.",
        ("lighthouse", "keeper", "night"),
    ),
    ("Explain what an allergy is.", ("allergy", "body", "reaction")),
    ("Describe how to care for a pair of leather shoes.", ("leather", "shoes", "polish")),
    ("Give tips for choosing a good watermelon.", ("watermelon", "weight", "shop")),
    ("Write a message to a class reminding them about a field trip.", ("trip", "lunch", "bus")),
    ("Explain how to fix a squeaky door.", ("door", "hinge", "oil")),
]

CONSTANT_START = ("Dear friend", "Here is", "Good morning", "In short", "To begin with")
CONSTANT_END = (
    "Is there anything else I can help with?",
    "Thank you for reading.",
    "Have a great day.",
    "That is all.",
)

# instruction type -> types it cannot be combined with (symmetric closure taken below)
GROUPS: dict[str, tuple[str, ...]] = {
    "case": (
        "change_case:english_lowercase",
        "change_case:english_capital",
        "change_case:capital_word_frequency",
    ),
    "length": ("length_constraints:number_words", "length_constraints:number_sentences"),
    "format": (
        "detectable_format:json_format",
        "detectable_format:number_bullet_lists",
        "length_constraints:number_paragraphs",
        "startend:quotation",
    ),
    "keywords": ("keywords:existence", "keywords:forbidden_words", "keywords:frequency"),
}
CONFLICTS: list[tuple[str, str]] = [
    ("detectable_format:json_format", "detectable_format:title"),
    ("detectable_format:json_format", "startend:start_checker"),
    ("detectable_format:json_format", "startend:end_checker"),
    ("detectable_format:json_format", "punctuation:no_comma"),
    ("detectable_format:json_format", "detectable_content:postscript"),
    ("startend:quotation", "startend:start_checker"),
    ("startend:quotation", "startend:end_checker"),
    ("startend:quotation", "detectable_content:postscript"),
    ("startend:end_checker", "detectable_content:postscript"),
    ("detectable_format:number_bullet_lists", "length_constraints:number_sentences"),
    ("length_constraints:number_paragraphs", "length_constraints:number_sentences"),
    ("change_case:english_lowercase", "detectable_format:title"),
    ("change_case:english_lowercase", "detectable_content:postscript"),
    ("change_case:english_capital", "keywords:frequency"),
]
TYPES: list[str] = [
    *GROUPS["case"],
    *GROUPS["length"],
    "length_constraints:number_paragraphs",
    *GROUPS["keywords"],
    "detectable_format:json_format",
    "detectable_format:number_bullet_lists",
    "detectable_format:title",
    "startend:start_checker",
    "startend:end_checker",
    "startend:quotation",
    "punctuation:no_comma",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "language:response_language",
]


def compatible(a: str, b: str) -> bool:
    if a == b:
        return False
    for members in GROUPS.values():
        if a in members and b in members:
            return False
    return (a, b) not in CONFLICTS and (b, a) not in CONFLICTS


def instruction(
    kind: str, words: tuple[str, str, str], rng: random.Random
) -> tuple[str, dict[str, Any]]:
    """One instruction of type ``kind``: its text and its verifier arguments."""
    a, b, _c = words
    pick = rng.choice
    if kind == "change_case:english_lowercase":
        return pick(
            [
                "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
                "Write everything in lowercase letters only; do not use a single capital letter.",
            ]
        ), {}
    if kind == "change_case:english_capital":
        return pick(
            [
                "Your entire response should be in English and in all capital letters.",
                "Write your whole answer in capital letters only.",
            ]
        ), {}
    if kind == "change_case:capital_word_frequency":
        if rng.random() < 0.5:
            n = pick([2, 3])
            return f"Stress the key points by writing at least {n} words in all capital letters.", {
                "capital_relation": "at least",
                "capital_frequency": n,
            }
        return "Do not write any word in all capital letters.", {
            "capital_relation": "less than",
            "capital_frequency": 1,
        }
    if kind == "length_constraints:number_words":
        rel = pick(["at least", "at most", "less than", "exactly"])
        if rel == "at least":
            n = pick([30, 50, 80])
            return pick(
                [
                    f"Answer with at least {n} words.",
                    f"Your response should be at least {n} words long.",
                ]
            ), {"relation": rel, "num_words": n}
        if rel == "at most":
            n = pick([40, 60, 100])
            return pick(
                [f"Use at most {n} words.", f"Keep your answer to no more than {n} words."]
            ), {"relation": rel, "num_words": n}
        if rel == "less than":
            n = pick([50, 80])
            return f"Your response should contain less than {n} words.", {
                "relation": rel,
                "num_words": n,
            }
        n = pick([10, 15, 20])
        return f"Answer in exactly {n} words.", {"relation": rel, "num_words": n}
    if kind == "length_constraints:number_sentences":
        rel = pick(["at least", "at most", "exactly"])
        n = {"at least": pick([4, 5]), "at most": pick([2, 3]), "exactly": pick([2, 3, 4])}[rel]
        return f"Your response should have {rel} {n} sentences.", {
            "relation": rel,
            "num_sentences": n,
        }
    if kind == "length_constraints:number_paragraphs":
        rel = pick(["exactly", "at least"])
        n = pick([2, 3])
        return (
            f"Your response should contain {rel} {n} paragraphs, separated from each other by a blank line.",
            {"relation": rel, "num_paragraphs": n},
        )
    if kind == "keywords:existence":
        if rng.random() < 0.5:
            return f"Include the keywords '{a}' and '{b}' in the response.", {"keywords": [a, b]}
        return f"Make sure to mention the word '{a}'.", {"keywords": [a]}
    if kind == "keywords:forbidden_words":
        if rng.random() < 0.5:
            return f"Do not include the words '{a}' or '{b}' in your response.", {
                "forbidden_words": [a, b]
            }
        return f"Avoid the word '{a}' in your answer.", {"forbidden_words": [a]}
    if kind == "keywords:frequency":
        rel = pick(["at least", "at least", "less than"])
        if rel == "at least":
            n = pick([2, 3])
            return f"The word '{a}' should appear at least {n} times in your response.", {
                "keyword": a,
                "relation": rel,
                "frequency": n,
            }
        return f"Use the word '{a}' less than 2 times.", {
            "keyword": a,
            "relation": rel,
            "frequency": 2,
        }
    if kind == "detectable_format:json_format":
        return pick(
            [
                "Wrap your entire output in JSON format. You can use markdown ticks such as ```.",
                "Give your answer as valid JSON and nothing else.",
            ]
        ), {}
    if kind == "detectable_format:number_bullet_lists":
        n = pick([2, 3, 4, 5])
        return (
            f"Your answer must contain exactly {n} bullet points. Use markdown bullet points such as:\n* This is a point.",
            {"num_bullets": n},
        )
    if kind == "detectable_format:title":
        return (
            "Your answer must contain a title, wrapped in double angular brackets, such as <<my title>>.",
            {},
        )
    if kind == "startend:start_checker":
        phrase = pick(CONSTANT_START)
        return f"Start your response with the words '{phrase}'.", {"start_phrase": phrase}
    if kind == "startend:end_checker":
        phrase = pick(CONSTANT_END)
        return (
            f"Finish your response with this exact phrase: '{phrase}' No other words should follow it.",
            {"end_phrase": phrase},
        )
    if kind == "startend:quotation":
        return "Wrap your entire response with double quotation marks.", {}
    if kind == "punctuation:no_comma":
        return pick(
            [
                "Do not use any commas in your response.",
                "In your entire response, refrain from using any commas.",
            ]
        ), {}
    if kind == "detectable_content:number_placeholders":
        n = pick([1, 2, 3])
        return (
            f"The response must contain at least {n} placeholder{'s' if n > 1 else ''} in square brackets, such as [name].",
            {"num_placeholders": n},
        )
    if kind == "detectable_content:postscript":
        marker = pick(["P.S.", "P.P.S"])
        return f"At the end of your response, add a postscript starting with {marker}", {
            "postscript_marker": marker
        }
    if kind == "language:response_language":
        return pick(
            [
                "Your entire response should be in English; no other language is allowed.",
                "Please respond in English only.",
            ]
        ), {"language": "en"}
    raise ValueError(kind)


def build() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    used: Counter[str] = Counter()
    rows = []
    for key, (task, words) in enumerate(TASKS, start=1):
        k = rng.choices([1, 2, 3], weights=[3, 4, 3])[0]
        chosen: list[str] = []
        while len(chosen) < k:
            options = [t for t in TYPES if all(compatible(t, c) for c in chosen)]
            low = min(used[t] for t in options)
            kind = rng.choice([t for t in options if used[t] == low])
            chosen.append(kind)
            used[kind] += 1
        texts, kwargs = zip(*(instruction(c, words, rng) for c in chosen), strict=True)
        rows.append(
            {
                "key": key,
                "prompt": " ".join([task, *texts]),
                "instruction_id_list": chosen,
                "kwargs": list(kwargs),
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Fail if the committed file differs.")
    args = parser.parse_args()
    text = render(build())
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT} differs from what this script writes")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(TASKS)} prompts to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
