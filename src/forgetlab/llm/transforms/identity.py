"""The identity transform: the unconjugated baseline every comparison needs."""

from __future__ import annotations

from forgetlab.llm.transforms._util import no_arg
from forgetlab.llm.transforms.base import Transform


class Identity(Transform):
    name = "identity"
    bijective = True
    scope = "full"

    def forward(self, text: str) -> str:
        return text

    def inverse(self, text: str) -> str:
        return text


def make_identity(arg: str) -> Transform:
    no_arg("identity", arg)
    return Identity()
