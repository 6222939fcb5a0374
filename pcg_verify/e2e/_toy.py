"""Tiny Llama models and a synthetic speech-token language with hidden acoustic clusters.

Used by the tests (tests/e2e) and the benchmark (benchmarks/bench_e2e.py):
everything is built from a config or trained here, seeded, so nothing is
downloaded.

The language (:class:`ToyLanguage`). Speech token k belongs to cluster
``k // cluster_size``. A sequence is a Markov chain over clusters (each
cluster has a few likely successors); inside the chosen cluster the token is
picked by a rule that depends on the context two steps back: member
``(c_{t-2} + c_t) mod cluster_size`` with probability ``fine_peak``, else a
uniform member. Tokens of one cluster are interchangeable as context (the
future depends on clusters only), so a target's input embeddings group them
together, while the fine choice needs longer context than the cluster chain:
what a small, briefly trained draft gets wrong.

Named pairs (:data:`TOY_PAIRS`, built by :meth:`ToyPair.train`): ``"small"``
is the fast pair of the tests (target 2 layers × 64, draft 1 × 16), whose
target costs about as much per forward pass as its draft, so no speculative
method can win on time with it; ``"sized"`` keeps that draft and trains a
wider, deeper target (4 layers × 512, 16 M parameters) whose forward pass
costs over ten times the draft's on a CPU, like a real target/draft pair
(benchmarks/bench_e2e.py measures the ratio).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from pcg_core.validation import check_int, check_real
from pcg_verify.e2e._layout import SpeechLayout

__all__ = ["TOY_PAIRS", "ToyLanguage", "ToyPair", "neighbour_purity", "perturbed_copy", "tiny_llama", "train_lm"]


def tiny_llama(vocab_size: int, *, hidden_size: int = 32, layers: int = 2, heads: int = 4, seed: int = 0,
               intermediate_size: int | None = None, logit_scale: float = 1.0, attention_scale: float = 1.0,
               value_scale: float = 1.0, embedding_scale: float = 1.0, tie_embeddings: bool = False) -> Any:
    """A ``LlamaForCausalLM`` from a ``LlamaConfig``, seeded, in eval mode; its MLP is
    ``intermediate_size`` wide (default ``2 × hidden_size``).

    ``logit_scale`` multiplies the output head's weights: random models with
    the default init are nearly uniform over V; a scale of 20–60 makes their
    next-token laws peaked, as a trained model's are. ``attention_scale``
    multiplies the query and key projections (attention logits grow by its
    square), so attention is sharp; ``value_scale`` multiplies the value and
    output projections, so what attention reads dominates the residual
    stream: with both, the law depends on the whole context, not mostly on the
    last token (a stale cache then changes it a lot). ``embedding_scale``
    multiplies the input embeddings: below 1, a wide model's random initial
    rows no longer drown what a short training run writes into them, so
    groups built from them recover the structure sooner.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    intermediate = 2 * hidden_size if intermediate_size is None else intermediate_size
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=intermediate,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                         max_position_embeddings=1024, tie_word_embeddings=tie_embeddings, bos_token_id=None,
                         eos_token_id=None, pad_token_id=None)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(state)
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(logit_scale)  # type: ignore[no-untyped-call]
        model.model.embed_tokens.weight.mul_(embedding_scale)
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(attention_scale)
            layer.self_attn.k_proj.weight.mul_(attention_scale)
            layer.self_attn.v_proj.weight.mul_(value_scale)
            layer.self_attn.o_proj.weight.mul_(value_scale)
    return model.eval()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class ToyLanguage:
    """The synthetic speech-token language of the module docstring.

    ``layout`` places ``clusters × cluster_size`` speech tokens; its
    ``speech_start_id`` opens every sequence.
    """

    layout: SpeechLayout
    clusters: int = 16
    cluster_size: int = 8
    successors: int = 3
    fine_peak: float = 0.9
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("clusters", self.clusters, minimum=2)
        check_int("cluster_size", self.cluster_size, minimum=1)
        check_int("successors", self.successors, minimum=1, maximum=self.clusters)
        check_real("fine_peak", self.fine_peak, minimum=0.0, maximum=1.0)
        if self.layout.num_speech != self.clusters * self.cluster_size or self.layout.speech_start_id is None:
            from pcg_core.errors import InvalidArgumentError

            raise InvalidArgumentError("layout", self.layout, f"must hold clusters × cluster_size = "
                                       f"{self.clusters * self.cluster_size} speech tokens and a speech_start_id")

    def transitions(self) -> torch.Tensor:
        """Cluster transition matrix [C, C]: ``successors`` likely next clusters per cluster (seeded)."""
        g = torch.Generator().manual_seed(self.seed)
        matrix = torch.full((self.clusters, self.clusters), 0.02 / self.clusters, dtype=torch.float64)
        for c in range(self.clusters):
            nxt = torch.randperm(self.clusters, generator=g)[: self.successors]
            matrix[c, nxt] += torch.rand(self.successors, generator=g, dtype=torch.float64) + 0.5
        return matrix / matrix.sum(1, keepdim=True)

    def cluster_of(self, ids: torch.Tensor) -> torch.Tensor:
        """Cluster of each speech id (−1 elsewhere)."""
        k = ids - self.layout.speech_offset
        inside = (k >= 0) & (k < self.layout.num_speech)
        return torch.where(inside, k // self.cluster_size, -1)

    def sample(self, count: int, length: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` sequences [count, length]: the start id, then ``length − 1`` speech ids."""
        trans = self.transitions()
        clusters = torch.empty(count, length - 1, dtype=torch.int64)
        clusters[:, 0] = torch.randint(self.clusters, (count,), generator=generator)
        for t in range(1, length - 1):
            clusters[:, t] = torch.multinomial(trans[clusters[:, t - 1]], 1, generator=generator)[:, 0]
        back = torch.cat([torch.zeros(count, 2, dtype=torch.int64), clusters[:, :-2]], 1)  # c_{t-2}
        fine = (back + clusters) % self.cluster_size
        noise = torch.randint(self.cluster_size, clusters.shape, generator=generator)
        keep = torch.rand(clusters.shape, generator=generator, dtype=torch.float64) < self.fine_peak
        member = torch.where(keep, fine, noise)
        ids = self.layout.speech_offset + clusters * self.cluster_size + member
        start = torch.full((count, 1), int(self.layout.speech_start_id or 0), dtype=torch.int64)
        return torch.cat([start, ids], 1)


def train_lm(model: Any, language: ToyLanguage, *, steps: int, batch: int = 32, length: int = 24,
             lr: float = 3e-3, seed: int = 0) -> Any:
    """Train ``model`` on ``language`` by next-token cross-entropy (AdamW), seeded; returns it in eval mode."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        ids = language.sample(batch, length, g)
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@dataclass(frozen=True)
class ToyPair:
    """A named target/draft configuration: each model's :func:`tiny_llama` and :func:`train_lm` arguments."""

    name: str
    target: Mapping[str, Any]
    draft: Mapping[str, Any]
    target_training: Mapping[str, Any]
    draft_training: Mapping[str, Any]

    def train(self, language: ToyLanguage) -> tuple[Any, Any]:
        """(target, draft), each built and trained on ``language`` (seeded), in eval mode."""
        target = train_lm(tiny_llama(language.layout.vocab_size, **self.target), language, **self.target_training)
        draft = train_lm(tiny_llama(language.layout.vocab_size, **self.draft), language, **self.draft_training)
        return target, draft


_DRAFT = {"hidden_size": 16, "layers": 1, "heads": 2, "seed": 5}
_DRAFT_TRAINING = {"steps": 100, "seed": 6}
#: ``"small"``: the tests' pair, trained in about 15 s on one core. ``"sized"``: the same draft and a target
#: whose forward pass costs over ten times the draft's on a CPU (benchmarks/bench_e2e.py measures it; about
#: 5 minutes of training on one core). Its MLP is 4× its width: more layers would cost as much but delayed
#: the clusters' appearance in the embeddings (6 layers: neighbour purity 0.77 after 300 steps). Its
#: embeddings start at a tenth of the default init and it trains at lr 1e-3 (slower at 3e-3 at this width):
#: after 300 steps, neighbour purity 0.83 and groups at θ = 0.5 of 5.6 tokens, 86 % of one cluster.
TOY_PAIRS: dict[str, ToyPair] = {
    "small": ToyPair("small", target={"hidden_size": 64, "layers": 2, "heads": 4, "seed": 3}, draft=_DRAFT,
                     target_training={"steps": 300, "seed": 4}, draft_training=_DRAFT_TRAINING),
    "sized": ToyPair("sized", target={"hidden_size": 512, "layers": 4, "heads": 8, "intermediate_size": 2048,
                                      "embedding_scale": 0.1, "seed": 3},
                     draft=_DRAFT, target_training={"steps": 300, "lr": 1e-3, "seed": 4},
                     draft_training=_DRAFT_TRAINING),
}


def neighbour_purity(embeddings: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of each row's nearest neighbours (cosine; as many as its class has other members) that share
    its label, averaged over rows: 1 when the embedding separates the classes, about 1/classes by chance."""
    unit = torch.nn.functional.normalize(embeddings.to(torch.float64), dim=1)
    sim = unit @ unit.T
    sim.fill_diagonal_(-torch.inf)
    total = 0.0
    for i in range(sim.shape[0]):
        same = int((labels == labels[i]).sum()) - 1
        if same == 0:
            total += 1.0
            continue
        top = torch.topk(sim[i], same).indices
        total += float((labels[top] == labels[i]).double().mean())
    return total / sim.shape[0]


def perturbed_copy(model: Any, *, noise: float, seed: int = 0, layers: int | None = None) -> Any:
    """A draft for ``model``: a copy whose weights get Gaussian noise of ``noise`` × each tensor's RMS (seeded),
    keeping only its first ``layers`` decoder layers when given (a shallower draft of the same family)."""
    import copy

    draft = copy.deepcopy(model)
    if layers is not None:
        draft.model.layers = draft.model.layers[:layers]
        draft.config.num_hidden_layers = layers
        if getattr(draft.config, "layer_types", None) is not None:
            draft.config.layer_types = draft.config.layer_types[:layers]
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in draft.parameters():
            rms = parameter.pow(2).mean().sqrt()
            parameter.add_(torch.randn(parameter.shape, generator=g) * noise * rms)
    return draft.eval()
