"""Conjugate prompting in the synthetic lab (docs/synthetic-reproduction.md#what-the-numbers-mean).

A conjugate ``s`` transforms a prompt, the predictor answers the transformed prompt, and
``s⁻¹`` maps the answer back. Because a conjugate wraps any :data:`Predictor`, the exact
Bayes reference for a transform is the same wrapper around a Bayes predictor.

- ``yscale(γ)``: feed ``(x_i, γ y_i)``, divide the answer by γ. Exact for ridge (linear
  in y); pushes ``γ w`` off the pool, so the discrete posterior falls.
- ``xscale(c)``: feed ``(c x_i, y_i)`` and ``c x_q``; answer unchanged. For ridge it
  equals prior scale ``c τ`` (regulariser ``λ / c²``): not neutral.
- ``rotation(M)``: average the answers to ``(R_m x_i, y_i, R_m x_q)`` over ``M`` Haar
  rotations (independent per prompt). ``x`` and continuous ``w`` are isotropic, so each
  rotation is an exact conjugate with no inverse; averaging removes the
  rotation-dependent part of the answer, which fine-tuning on a fixed pool inflates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import torch

from forgetlab.errors import ForgetlabError
from forgetlab.synthetic.analysis import Predictor

Kind = Literal["identity", "yscale", "xscale", "rotation"]
KINDS: tuple[Kind, ...] = ("identity", "yscale", "xscale", "rotation")


def haar_orthogonal(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` Haar-distributed ``d × d`` orthogonal matrices ``[n, d, d]`` (float64).

    QR of a Gaussian matrix with the signs of ``diag(R)`` moved into ``Q`` (Mezzadri 2007):
    without the sign fix ``Q`` is not Haar.
    """
    z = torch.randn(n, d, d, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(z)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs[:, None, :]


@dataclass(frozen=True)
class Conjugate:
    """One conjugate transform; ``param`` is γ (yscale), c (xscale) or M (rotation)."""

    kind: Kind
    param: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ForgetlabError(f"unknown conjugate {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind in ("yscale", "xscale") and not self.param > 0:
            raise ForgetlabError(f"{self.kind} parameter must be > 0 (got {self.param})")
        if self.kind == "rotation" and (self.param < 1 or self.param != int(self.param)):
            raise ForgetlabError(
                f"rotation parameter M must be a positive integer (got {self.param})"
            )

    @property
    def name(self) -> str:
        if self.kind == "identity":
            return "identity"
        p = int(self.param) if self.kind == "rotation" else self.param
        return f"{self.kind}:{p:g}"

    def __call__(self, predictor: Predictor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """Predictions for the original prompts, obtained through the transform."""
        if self.kind == "identity":
            return predictor(xs, ys)
        if self.kind == "yscale":
            return predictor(xs, ys * self.param) / self.param
        if self.kind == "xscale":
            return predictor(xs * self.param, ys)
        return self._rotation_average(predictor, xs, ys)

    def _rotation_average(
        self, predictor: Predictor, xs: torch.Tensor, ys: torch.Tensor
    ) -> torch.Tensor:
        m = int(self.param)
        return rotation_ensembles(predictor, xs, ys, [m], self.seed)[m]


def rotation_ensembles(
    predictor: Predictor, xs: torch.Tensor, ys: torch.Tensor, sizes: list[int], seed: int = 0
) -> dict[int, torch.Tensor]:
    """Rotation-ensemble predictions for every ensemble size in ``sizes`` at once.

    Rotation ``j`` is the same for every ensemble (one seeded stream), so the ensemble of
    size M is the running mean of the first M rotated answers: a sweep over M = 1, 2, 4,
    8, 16 costs 16 forward passes, not 31, and equals ``Conjugate("rotation", M, seed)``.
    """
    B, _, d = xs.shape
    g = torch.Generator(device="cpu")
    g.manual_seed(int(seed))
    wanted = sorted({int(m) for m in sizes})
    out: dict[int, torch.Tensor] = {}
    total: torch.Tensor | None = None
    for j in range(1, (wanted[-1] if wanted else 0) + 1):
        rot = haar_orthogonal(B, d, g).to(dtype=xs.dtype, device=xs.device)
        preds = predictor(torch.einsum("bij,bkj->bki", rot, xs), ys).to(torch.float64)
        total = preds if total is None else total + preds
        if j in wanted:
            out[j] = total / j
    return out


def parse_conjugate(text: str, seed: int = 0) -> Conjugate:
    """``"yscale:2"`` / ``"xscale:0.5"`` / ``"rotation:8"`` / ``"identity"`` -> :class:`Conjugate`."""
    kind, _, raw = text.partition(":")
    if kind == "identity":
        return Conjugate("identity")
    if kind not in KINDS:
        raise ForgetlabError(f"unknown conjugate {kind!r} (known: {', '.join(KINDS)})")
    try:
        param = float(raw)
    except ValueError:
        raise ForgetlabError(f"conjugate {text!r} needs a number after ':'") from None
    return Conjugate(cast(Kind, kind), param, seed)


def conjugate_grid(grids: dict[str, list[float]], seed: int = 0) -> list[Conjugate]:
    """Every transform × parameter of ``grids`` (``{"yscale": [1.5, 2], ...}``)."""
    out: list[Conjugate] = []
    for kind, params in grids.items():
        for p in params:
            out.append(Conjugate(cast(Kind, kind), float(p), seed))
    return out


def recovered_fraction(finetuned: float, conjugate: float, pretrained: float) -> float:
    """(finetuned − conjugate) / (finetuned − pretrained); NaN when there is nothing to recover."""
    gap = finetuned - pretrained
    if not gap > 0:
        return float("nan")
    return (finetuned - conjugate) / gap
