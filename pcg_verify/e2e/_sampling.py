"""The one logits → probabilities function of end-to-end decoding (temperature, top-k, top-p).

Math follows the paper: q is the target, p the draft. Every distribution of
the decoding loop goes through :meth:`SamplingConfig.probs`: the draft's
sampling law p, the p and q handed to acceptance (so the residual and the
bonus use them too), plain autoregressive sampling and the monitors'
reference. Applying a processor to one side only is a wiring bug that breaks
exactness (docs/e2e.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcg_core.validation import check_int, check_real

if TYPE_CHECKING:
    import torch

__all__ = ["SamplingConfig"]


@dataclass(frozen=True)
class SamplingConfig:
    """How logits become a sampling distribution, the same on every side of the loop.

    Parameters
    ----------
    temperature : float
        ``> 0``; logits are divided by it.
    top_k : int or None
        Keep the ``top_k`` largest logits (every logit tied with the k-th is
        kept too, so the rule is a function of the values, never of an order
        among ties); ``None`` keeps all.
    top_p : float or None
        In ``(0, 1]``: keep the smallest set of most likely ids whose mass
        reaches ``top_p`` (after temperature and top-k; ties kept in id order);
        ``None`` keeps all.

    Examples
    --------
    >>> import torch
    >>> from pcg_verify.e2e import SamplingConfig
    >>> [round(x, 4) for x in SamplingConfig(top_k=2).probs(torch.tensor([0.0, 1.0, 2.0])).tolist()]
    [0.0, 0.2689, 0.7311]
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        temperature = check_real("temperature", self.temperature, minimum=0.0)
        if temperature == 0.0:
            from pcg_core.errors import InvalidArgumentError

            raise InvalidArgumentError("temperature", self.temperature, "must be > 0",
                                       "greedy decoding has no sampling law to verify")
        object.__setattr__(self, "temperature", temperature)
        if self.top_k is not None:
            object.__setattr__(self, "top_k", check_int("top_k", self.top_k, minimum=1))
        if self.top_p is not None:
            top_p = check_real("top_p", self.top_p, minimum=0.0, maximum=1.0)
            if top_p == 0.0:
                from pcg_core.errors import InvalidArgumentError

                raise InvalidArgumentError("top_p", self.top_p, "must lie in (0, 1]")
            object.__setattr__(self, "top_p", top_p)

    def probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Float64 probabilities [..., V] from ``logits`` [..., V] (any float dtype, any device).

        Order: temperature, then top-k on the scaled logits, then top-p on the
        resulting distribution; removed ids get probability exactly 0 and the
        rest is renormalised by a float64 softmax, so rows sum to 1 within
        float64 rounding. O(V) per row (O(V log V) with top-p).
        """
        import torch

        scaled = logits.to(torch.float64) / self.temperature
        if self.top_k is not None and self.top_k < scaled.shape[-1]:
            kth = torch.topk(scaled, self.top_k, dim=-1).values[..., -1:]  # [..., 1]
            scaled = scaled.masked_fill(scaled < kth, -torch.inf)
        probs = torch.softmax(scaled, dim=-1)
        if self.top_p is not None and self.top_p < 1.0:
            ordered, order = torch.sort(probs, dim=-1, descending=True, stable=True)
            # Keep id j of the sorted row iff the mass before it is < top_p (the first id always stays).
            before = ordered.cumsum(-1) - ordered
            drop = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, order, before >= self.top_p)
            probs = torch.softmax(scaled.masked_fill(drop, -torch.inf), dim=-1)
        return probs
