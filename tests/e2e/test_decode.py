"""The decoding loop on real (tiny) Llama models: monitors pass on correct decoding, SD and AR follow the
target's exact sequence law, ids and groups work at Llasa's vocabulary size.

Statistical tests here are seeded (deterministic) and each states its false-positive rate: the monitors'
family-wise rate is 1e-3 per run, each exact categorical test 1e-3.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from e2e_pairs import Pair

from pcg_core import singleton_groups
from pcg_verify.e2e import (
    LLASA_SPEECH_OFFSET,
    LLASA_VOCAB_SIZE,
    Monitor,
    SamplingConfig,
    SpeechLayout,
    generate,
    groups_for_layout,
    groups_from_model,
)
from pcg_verify.e2e._toy import perturbed_copy, tiny_llama
from pcg_verify.stats import check_categorical

RATE = 1e-3


def _prompts(pair: Pair, rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Speech-id prompts of lengths 3 to 6, left-padded (rows of different lengths share the batch)."""
    g = torch.Generator().manual_seed(seed)
    start, stop = pair.layout.speech_range
    ids = torch.randint(start, stop, (rows, 6), generator=g)
    mask = torch.ones_like(ids)
    for b in range(rows):
        mask[b, : b % 4] = 0
        ids[b, : b % 4] = 0
    return ids, mask


@pytest.mark.parametrize(("method", "sampling"), [
    ("pcg", SamplingConfig()),
    ("pcg", SamplingConfig(temperature=2.0, top_k=2)),
    ("pcg", SamplingConfig(top_p=0.9)),
    ("sd", SamplingConfig()),
    ("ar", SamplingConfig()),
], ids=["pcg", "pcg-topk2", "pcg-topp", "sd", "ar"])
def test_monitors_pass_on_correct_decoding(tiny_pair: Pair, method: str, sampling: SamplingConfig) -> None:
    """Audit mode (the monitors' q from a fresh no-cache pass): a correct loop passes at family-wise rate 1e-3."""
    groups = groups_from_model(tiny_pair.target, tiny_pair.layout, theta=0.3) if method == "pcg" else None
    ids, mask = _prompts(tiny_pair, 16, seed=0)
    monitor = Monitor(seed=1, false_positive_rate=RATE)
    out = generate(tiny_pair.target, tiny_pair.draft, ids, attention_mask=mask, method=method, groups=groups,
                   sampling=sampling, max_new_tokens=48, eos_token_id=None,
                   generator=torch.Generator().manual_seed(2), monitor=monitor, reference="recompute")
    result = monitor.result()
    assert result.passed, result.summary()
    assert result.exact and [len(s) for s in out.sequences] == [48] * 16
    assert out.stats.new_tokens == 16 * 48
    labels = result.streams[0]
    assert labels.name == "labels" and labels.n_samples == 16 * 48 and labels.n_padded == 0
    if method == "ar":
        assert out.stats.tokens_per_target_call == 1.0 and len(result.streams) == 1
    else:
        accepts = result.streams[1]
        assert accepts.n_samples == 16 * (48 - 48 // 4)
        assert out.stats.blocks == out.stats.target_calls and out.stats.drafted == 3 * out.stats.blocks


def test_eos_stops_rows_and_pads_the_streams(tiny_pair: Pair) -> None:
    """Rows stop at EOS (kept) at different lengths; the monitors pad those rows to the horizon."""
    ids, mask = _prompts(tiny_pair, 8, seed=3)
    groups = groups_from_model(tiny_pair.target, tiny_pair.layout, theta=0.3)
    plain = generate(tiny_pair.target, tiny_pair.draft, ids, attention_mask=mask, method="pcg", groups=groups,
                     max_new_tokens=24, eos_token_id=None, generator=torch.Generator().manual_seed(4))
    eos = [plain.sequences[b][2] for b in range(3)]  # tokens that rows emit early
    monitor = Monitor(seed=0)
    out = generate(tiny_pair.target, tiny_pair.draft, ids, attention_mask=mask, method="pcg", groups=groups,
                   max_new_tokens=24, eos_token_id=eos, generator=torch.Generator().manual_seed(4), monitor=monitor)
    lengths = [len(s) for s in out.sequences]
    assert min(lengths) < 24 and len(set(lengths)) > 1
    for seq in out.sequences:
        assert len(seq) == 24 or seq[-1] in eos
        assert all(t not in eos for t in seq[:-1])
    result = monitor.result()
    assert result.streams[0].n_padded == sum(24 - n for n in lengths)
    assert result.passed, result.summary()


def _exact_law(model: torch.nn.Module, prompt: list[int], sampling: SamplingConfig, vocab: int) -> torch.Tensor:
    """The target's law of the next two tokens after ``prompt``, [V²], by enumeration (no cache)."""
    with torch.no_grad():
        first = sampling.probs(model(input_ids=torch.tensor([prompt])).logits[0, -1])  # [V]
        follow = torch.tensor([[*prompt, t] for t in range(vocab)])
        second = sampling.probs(model(input_ids=follow).logits[:, -1])  # [V, V]
    return (first[:, None] * second).reshape(-1)


@pytest.mark.parametrize("method", ["sd", "ar"])
def test_output_law_matches_the_target_exactly(method: str) -> None:
    """SD through the loop is token-exact: its two-token sequences follow the target's exact law, as AR's do.

    V = 16, so the 256 sequences are enumerated. 4,000 rows (two prompts, one left-padded) decode in one
    batch, so rows accept different numbers of drafts and are rolled back differently. G test per prompt at
    false-positive rate 1e-3 each (cells with expected count < 5 pooled).
    """
    vocab = 16
    target = tiny_llama(vocab, hidden_size=16, layers=2, heads=2, seed=7, logit_scale=8.0, attention_scale=3.0)
    draft = perturbed_copy(target, noise=0.5, seed=8)
    sampling = SamplingConfig(temperature=0.9, top_k=10, top_p=0.97)
    prompts, rows = ([3, 5, 7], [9, 2]), 2000
    ids = torch.tensor([prompts[0]] * rows + [[0, *prompts[1]]] * rows)
    mask = torch.ones_like(ids)
    mask[rows:, 0] = 0
    out = generate(target, draft, ids, attention_mask=mask, method=method, gamma=2, sampling=sampling,
                   max_new_tokens=2, eos_token_id=None, generator=torch.Generator().manual_seed(9))
    if method == "sd":
        assert 0.2 < out.stats.acceptance_rate < 0.95  # drafts are accepted and rejected: both paths are tested
    for half, prompt in enumerate(prompts):
        law = _exact_law(target, list(prompt), sampling, vocab)
        counts = torch.zeros(vocab * vocab, dtype=torch.int64)
        for first, second in (out.sequences[b] for b in range(half * rows, (half + 1) * rows)):
            counts[first * vocab + second] += 1
        result = check_categorical(counts.numpy(), law.numpy())
        assert result.passed(RATE), (method, prompt, result)
        assert not result.impossible_categories


def test_llasa_size_layout() -> None:
    """The real Llasa id layout (V = 193,800, speech token k at id 128,264 + k) with a tiny hidden size:
    groups cover the speech ids only, PCG decodes speech ids, and the monitors pass (rate 1e-3)."""
    layout = SpeechLayout.llasa(num_speech=2048, speech_start_id=128_262, speech_end_id=128_263)
    assert layout.vocab_size == LLASA_VOCAB_SIZE and layout.speech_id(5) == LLASA_SPEECH_OFFSET + 5
    target = tiny_llama(layout.vocab_size, hidden_size=8, layers=1, heads=2, seed=0, logit_scale=30.0)
    draft = perturbed_copy(target, noise=0.2, seed=1)
    groups = groups_for_layout(target.get_input_embeddings().weight.detach()[LLASA_SPEECH_OFFSET:][:2048], layout,
                               theta=0.8)
    assert groups.vocab_size == LLASA_VOCAB_SIZE
    sizes = groups.sizes()
    speech = set(range(LLASA_SPEECH_OFFSET, LLASA_SPEECH_OFFSET + 2048))
    for token in (0, 128_262, 128_263, 150_000):  # text, specials and speech ids beyond the range: singletons
        (k,) = groups.groups_of(token).tolist()
        assert groups.members_of(k).tolist() == [token]
    assert any(int(sizes[k]) > 1 for t in speech for k in groups.groups_of(t).tolist())
    for k in groups.groups_of(LLASA_SPEECH_OFFSET + 1).tolist():
        assert set(groups.members_of(k).tolist()) <= speech
    ids = torch.tensor([[128_262, *range(LLASA_SPEECH_OFFSET, LLASA_SPEECH_OFFSET + 3)]] * 2)
    monitor = Monitor(seed=0)
    out = generate(target, draft, ids, method="pcg", groups=groups, max_new_tokens=12, eos_token_id=128_263,
                   generator=torch.Generator().manual_seed(0), monitor=monitor)
    assert all(0 <= t < LLASA_VOCAB_SIZE for t in itertools.chain(*out.sequences))
    assert monitor.result().passed


def test_ssd_and_singleton_pcg_run_through_the_same_loop(tiny_pair: Pair) -> None:
    """SSD decodes (its stats are sane); PCG with singleton groups is standard SD: same law, so its monitors
    pass (rate 1e-3)."""
    ids, mask = _prompts(tiny_pair, 8, seed=5)
    ssd = generate(tiny_pair.target, tiny_pair.draft, ids, attention_mask=mask, method="ssd", beta=0.3,
                   max_new_tokens=16, eos_token_id=None, generator=torch.Generator().manual_seed(0))
    assert ssd.stats.new_tokens == 8 * 16 and 0 <= ssd.stats.acceptance_rate <= 1
    monitor = Monitor(seed=3)
    generate(tiny_pair.target, tiny_pair.draft, ids, attention_mask=mask, method="pcg",
             groups=singleton_groups(tiny_pair.layout.vocab_size), max_new_tokens=32, eos_token_id=None,
             generator=torch.Generator().manual_seed(1), monitor=monitor, reference="recompute")
    assert monitor.result().passed
