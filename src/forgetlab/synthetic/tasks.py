"""Task families and the stateless, step-indexed sampler (docs/synthetic-training.md#the-task).

A prompt is ``(x_1, y_1, ..., x_K, y_K)`` with ``x ~ N(0, I_d)`` and ``y = <w, x> + eps``,
``eps ~ N(0, sigma^2)``. The weight ``w`` comes from one of two families, chosen **per
sequence**: the *discrete* family (uniform over a fixed pool of N weights drawn once from
``N(0, tau^2 I)`` with its own seed) with probability ``alpha``, else the *continuous*
family ``N(0, tau^2 I)``.

Following Raventós et al., every batch is a pure function of ``(seed, stream, step)``:
there is no sampler state to save, resuming is exact, and evaluation sets (which use
named streams other than ``"train"``) can never share random numbers with training.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from forgetlab.config import Seed, StrictModel

Family = Literal["mixture", "continuous", "discrete"]

TRAIN_STREAM = "train"
POOL_STREAM = "pool"


class TaskConfig(StrictModel):
    """The data distribution of the synthetic lab."""

    d: int = Field(8, gt=0, le=4096, description="input dimension")
    n_points: int = Field(16, ge=1, le=65536, description="K, examples per prompt")
    pool_size: int = Field(32, ge=1, le=1 << 24, description="N, weights in the discrete pool")
    alpha: float = Field(0.5, ge=0.0, le=1.0, description="probability of the discrete family")
    sigma: float = Field(0.5, ge=0.0, description="label noise standard deviation")
    tau: float = Field(1.0, gt=0.0, description="prior scale of w")
    pool_seed: Seed = Field(0, description="seed of the discrete pool (its own stream)")
    tau_range: tuple[float, float] | None = Field(
        None,
        description="if set, continuous sequences draw tau log-uniformly from this range "
        "(training-time scale augmentation; Bayes references keep the nominal tau)",
    )

    label_scale_range: tuple[float, float] | None = Field(
        None,
        description="if set, each continuous sequence multiplies w and its noise by s drawn "
        "log-uniformly from this range (pretraining over label scales, so that y-scaling "
        "conjugates stay in distribution; Bayes references keep nominal tau and sigma)",
    )

    @model_validator(mode="after")
    def _check_range(self) -> TaskConfig:
        for name in ("tau_range", "label_scale_range"):
            bounds = getattr(self, name)
            if bounds is not None and not 0 < bounds[0] <= bounds[1]:
                raise ValueError(f"{name} must satisfy 0 < low <= high")
        return self


def stream_seed(seed: int, stream: str, step: int = 0) -> int:
    """A 64-bit seed that is a pure function of ``(seed, stream, step)``.

    Distinct streams are distinct spawn keys of a ``numpy.random.SeedSequence``, so a
    training batch and an evaluation batch never draw from the same random numbers.
    """
    stream_id = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")
    ss = np.random.SeedSequence(entropy=[int(seed) & (2**64 - 1), stream_id, int(step)])
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def generator(seed: int, stream: str, step: int = 0) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(stream_seed(seed, stream, step))
    return g


def make_pool(cfg: TaskConfig) -> torch.Tensor:
    """The discrete pool ``[N, d]``, drawn once from ``N(0, tau^2 I)`` with ``cfg.pool_seed``."""
    g = generator(cfg.pool_seed, POOL_STREAM)
    return cfg.tau * torch.randn(cfg.pool_size, cfg.d, generator=g, dtype=torch.float64)


@dataclass(frozen=True)
class Batch:
    """One batch of prompts.

    Attributes:
        xs: ``[B, K, d]`` inputs.
        ys: ``[B, K]`` noisy labels.
        ws: ``[B, d]`` the true task weights.
        is_discrete: ``[B]`` True where the sequence came from the discrete pool.
        pool_index: ``[B]`` index into the pool (``-1`` for continuous sequences).
    """

    xs: torch.Tensor
    ys: torch.Tensor
    ws: torch.Tensor
    is_discrete: torch.Tensor
    pool_index: torch.Tensor

    @property
    def targets(self) -> torch.Tensor:
        """Noiseless targets ``<w, x_i>`` ``[B, K]`` (what normalised error compares to)."""
        return torch.einsum("bkd,bd->bk", self.xs, self.ws)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            *(t.to(device) for t in (self.xs, self.ys, self.ws, self.is_discrete, self.pool_index))
        )

    def __len__(self) -> int:
        return int(self.xs.shape[0])


class TaskSampler:
    """Draws batches as a pure function of ``(seed, stream, step)``.

    >>> cfg = TaskConfig(d=3, n_points=4, pool_size=5, alpha=1.0)
    >>> s = TaskSampler(cfg, seed=1)
    >>> b = s.batch(step=7, batch_size=2)
    >>> tuple(b.xs.shape), tuple(b.ys.shape), bool(b.is_discrete.all())
    ((2, 4, 3), (2, 4), True)
    >>> torch.equal(b.xs, s.batch(step=7, batch_size=2).xs)
    True
    """

    def __init__(self, cfg: TaskConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.cfg = cfg
        self.seed = seed
        self.dtype = dtype
        self.pool = make_pool(cfg)

    def batch(
        self,
        step: int,
        batch_size: int,
        *,
        stream: str = TRAIN_STREAM,
        family: Family = "mixture",
        alpha: float | None = None,
        d_active: int | None = None,
        n_points: int | None = None,
    ) -> Batch:
        """Draw batch ``step`` of ``stream``.

        ``family`` forces every sequence into one family (evaluation sets); ``alpha``
        overrides the mixture weight (fine-tuning). ``d_active``/``n_points`` implement
        Garg et al.'s curriculum: the same random numbers are drawn at full size, then
        inputs beyond ``d_active`` are zeroed and the prompt is truncated, so a batch
        never depends on the curriculum stage in any other way.
        """
        cfg = self.cfg
        K, d, N = cfg.n_points, cfg.d, cfg.pool_size
        g = generator(self.seed, stream, step)
        # Fixed draw order and sizes: the same step gives the same numbers for any family/alpha.
        u_family = torch.rand(batch_size, generator=g, dtype=torch.float64)
        pool_index = torch.randint(0, N, (batch_size,), generator=g)
        z = torch.randn(batch_size, d, generator=g, dtype=torch.float64)
        u_tau = torch.rand(batch_size, generator=g, dtype=torch.float64)
        xs = torch.randn(batch_size, K, d, generator=g, dtype=torch.float64)
        noise = torch.randn(batch_size, K, generator=g, dtype=torch.float64)
        u_scale = torch.rand(
            batch_size, generator=g, dtype=torch.float64
        )  # drawn last: older draws unchanged

        a = cfg.alpha if alpha is None else alpha
        if family == "discrete":
            is_discrete = torch.ones(batch_size, dtype=torch.bool)
        elif family == "continuous":
            is_discrete = torch.zeros(batch_size, dtype=torch.bool)
        else:
            is_discrete = u_family < a
        if cfg.tau_range is not None:
            lo, hi = cfg.tau_range
            taus = torch.exp(np.log(lo) + u_tau * (np.log(hi) - np.log(lo)))
        else:
            taus = torch.full((batch_size,), cfg.tau, dtype=torch.float64)
        w_cont = z * taus[:, None]
        noise_scale = torch.full((batch_size,), cfg.sigma, dtype=torch.float64)
        if cfg.label_scale_range is not None:
            lo, hi = cfg.label_scale_range
            scale = torch.exp(np.log(lo) + u_scale * (np.log(hi) - np.log(lo)))
            scale = torch.where(is_discrete, torch.ones_like(scale), scale)
            w_cont = w_cont * scale[:, None]
            noise_scale = noise_scale * scale
        ws = torch.where(is_discrete[:, None], self.pool[pool_index], w_cont)

        if d_active is not None and d_active < d:
            xs[..., d_active:] = 0.0
        if n_points is not None and n_points < K:
            xs, noise = xs[:, :n_points], noise[:, :n_points]
        ys = torch.einsum("bkd,bd->bk", xs, ws) + noise_scale[:, None] * noise
        return Batch(
            xs=xs.to(self.dtype),
            ys=ys.to(self.dtype),
            ws=ws.to(self.dtype),
            is_discrete=is_discrete,
            pool_index=torch.where(is_discrete, pool_index, torch.full_like(pool_index, -1)),
        )


def pack_tokens(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Interleave prompts into model tokens ``[B, 2K, d+1]``: x token ``[0, x]``, y token ``[y, 0...]``.

    >>> xs = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]); ys = torch.tensor([[5.0, 6.0]])
    >>> pack_tokens(xs, ys)[0]
    tensor([[0., 1., 2.],
            [5., 0., 0.],
            [0., 3., 4.],
            [6., 0., 0.]])
    """
    B, K, d = xs.shape
    tokens = xs.new_zeros(B, K, 2, d + 1)
    tokens[:, :, 0, 1:] = xs
    tokens[:, :, 1, 0] = ys
    return tokens.reshape(B, 2 * K, d + 1)


def unpack_tokens(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack_tokens`: ``[B, 2K, d+1] -> (xs [B, K, d], ys [B, K])``.

    >>> xs = torch.randn(2, 3, 4); ys = torch.randn(2, 3)
    >>> a, b = unpack_tokens(pack_tokens(xs, ys))
    >>> torch.equal(a, xs) and torch.equal(b, ys)
    True
    """
    return tokens[:, 0::2, 1:], tokens[:, 1::2, 0]


def normalised_error(preds: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-prompt, per-position squared error against the noiseless target, divided by d."""
    d = batch.xs.shape[-1]
    return (preds.to(torch.float64) - batch.targets.to(torch.float64)) ** 2 / d
