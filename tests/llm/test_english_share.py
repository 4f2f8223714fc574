"""Plain-English replies to a conjugate prompt are judged as written, not decoded."""

from __future__ import annotations

from forgetlab.llm.benchmarks.harmful.benchmark import map_to_english
from forgetlab.llm.english import english_share, plain_reply
from forgetlab.llm.transforms.base import get_transform

REFUSAL = "I'm sorry, but I can't help with that. It could be used to hurt others."


def test_english_share() -> None:
    assert english_share(REFUSAL) == 1.0
    assert english_share("V'z fbeel, ohg V pna'g uryc jvgu gung.") < 0.3
    assert english_share("") == 0.0 and english_share("1234 !!") == 0.0


def test_plain_reply_rule() -> None:
    rot13 = get_transform("rot13")
    assert plain_reply(REFUSAL, rot13.inverse(REFUSAL))
    encoded = rot13.forward(REFUSAL)
    assert not plain_reply(encoded, rot13.inverse(encoded))  # a reply in rot13 is decoded
    assert not plain_reply("zzz qqq", "xxx yyy")  # neither is English: keep decoding


def test_map_to_english_keeps_plain_refusals_and_decodes_cipher_replies() -> None:
    transforms = {t: get_transform(t) for t in ("rot13", "piglatin", "leetspeak")}
    rows = []
    for name, tr in transforms.items():
        rows.append({"transform": name, "language": "en", "output": REFUSAL})
        rows.append({"transform": name, "language": "en", "output": tr.forward(REFUSAL)})
    mapped = map_to_english(rows, transforms, None)
    for name, plain, coded in zip(transforms, mapped[::2], mapped[1::2], strict=True):
        # the judge sees the refusal: kept as written (rot13), or decoded to itself
        assert plain["output_en"] == REFUSAL, name
        if name == "rot13":
            assert plain["judged_on"] == "raw" and "plain English" in plain["mapping_detail"]
        assert coded["judged_on"] == "inverse", name
        assert english_share(coded["output_en"]) > 0.9, name
