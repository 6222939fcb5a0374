"""The monitors on synthetic records (exact laws known), the record files, and every invalid argument.

Synthetic streams are seeded; each statistical assertion states its false-positive rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pcg_core import InvalidArgumentError, InvalidTypeError
from pcg_verify.e2e import Monitor, Record, SamplingConfig, SpeechLayout, generate, load_records


def _records(rng: np.random.Generator, n: int, rows: int, *, skew: float = 0.0) -> list[dict[str, Any]]:
    """Draft records with random laws over 5 groups: labels from the law (skewed towards the least likely
    ranked groups when ``skew`` > 0), accepts Bernoulli(a) (or a + skew)."""
    out = []
    for i in range(n):
        law = rng.dirichlet(np.ones(5))
        order = np.lexsort((np.arange(5), -law))  # decreasing mass, ties by id
        emit = law + skew * (np.arange(5) == order[-1])
        label = int(rng.choice(5, p=emit / emit.sum()))
        rank = int(np.flatnonzero(order == label)[0])
        a = float(rng.uniform(0.1, 0.9))
        out.append({"row": i % rows, "step": i // rows, "position": i // rows, "kind": "draft", "label": label,
                    "cdf_below": float(law[order[:rank]].sum()), "mass": float(law[label]),
                    "accept_prob": a, "accepted": bool(rng.random() < min(1.0, a + skew))})
    return out


def test_exact_streams_pass_and_skewed_ones_fail() -> None:
    """2,000 records from the exact laws pass (family-wise rate 1e-3); the same with labels and accepts pushed
    off their laws fail. The skewed streams' KS distances (≈ 0.2) are well above the 0.082 each test detects
    with power 0.99 at n = 2,000 and level 5e-4 (DKW–Massart), so the failure is not a lucky seed."""
    rng = np.random.default_rng(0)
    good = Monitor.from_records(_records(rng, 2000, 4), seed=1).result()
    assert good.passed and len(good.streams) == 2 and not good.exact
    assert good.streams[0].detectable < 0.09
    bad = Monitor.from_records(_records(rng, 2000, 4, skew=0.3), seed=1).result()
    assert not bad.passed and all(s.rejected and s.statistic > 2 * s.detectable for s in bad.streams)
    accepts = bad.streams[1]
    assert accepts.observed_accepts is not None and accepts.expected_accepts is not None
    assert accepts.observed_accepts > accepts.expected_accepts + 100


def test_false_positive_rate_is_kept_on_exact_streams() -> None:
    """400 monitors at rate 0.05 on exact streams of 50 records: rejections ~ Binomial(400, ≤ 0.05); more than
    40 would have probability < 1e-9 (an exact binomial tail), so this never flakes and a gross miscalibration
    cannot pass."""
    rng = np.random.default_rng(1)
    rejected = sum(not Monitor.from_records(_records(rng, 50, 2), seed=s, false_positive_rate=0.05).result().passed
                   for s in range(400))
    assert rejected <= 40


def test_horizon_pads_short_rows_and_drops_long_ones() -> None:
    rng = np.random.default_rng(2)
    records = [r for r in _records(rng, 60, 3) if not (r["row"] == 2 and r["step"] >= 5)]  # row 2 stopped early
    monitor = Monitor.from_records(records, seed=0, label_horizon=12, accept_horizon=12, rows=4)  # row 3: none
    result = monitor.result()
    labels = result.streams[0]
    assert result.exact and labels.n_samples == 4 * 12
    assert labels.n_padded == (12 - 5) + 12 and labels.n_dropped == 2 * (20 - 12)
    assert result.passed


@pytest.mark.parametrize("suffix", [".jsonl", ".npz"])
def test_records_round_trip(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(3)
    records = [*_records(rng, 30, 2),
               {"row": 0, "step": 15, "position": 15, "kind": "bonus", "label": 1, "cdf_below": 0.25, "mass": 0.5},
               {"row": 1, "step": 15, "position": 15, "kind": "ar", "label": 0, "cdf_below": 0.0, "mass": 1.0}]
    monitor = Monitor.from_records(records, seed=5, label_horizon=16, accept_horizon=15, rows=2)
    path = monitor.save(tmp_path / f"records{suffix}")
    loaded, header = load_records(path)
    assert header == {"rows": 2, "label_horizon": 16, "accept_horizon": 15}
    assert loaded == monitor.records and all(isinstance(r, Record) for r in loaded)
    again = Monitor.load(path, seed=5)
    assert again.result() == monitor.result()
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left


def test_sampling_config_applies_every_processor_in_order() -> None:
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0, 2.0]])
    probs = SamplingConfig(temperature=0.5, top_k=3, top_p=0.9).probs(logits)[0]
    # T = 0.5 doubles the logits; top-3 keeps ids 0, 1, 4 (1 and 4 tie); top-p 0.9 then drops nothing more
    # only if the two tied ids are needed: e^6 / (e^6 + 2 e^4) = 0.787 < 0.9, so all three stay.
    kept = torch.tensor([6.0, 4.0, 4.0]).softmax(0).double()
    assert torch.allclose(probs[[0, 1, 4]], kept) and probs[2] == 0 and probs[3] == 0
    assert SamplingConfig(top_p=0.5).probs(logits)[0].tolist()[0] == 1.0  # the top id alone reaches 0.5
    assert probs.dtype == torch.float64


def _tiny() -> Any:
    from pcg_verify.e2e._toy import tiny_llama

    return tiny_llama(12, hidden_size=8, layers=1, heads=2, seed=0)


INVALID: list[tuple[Any, type[Exception], str]] = [
    (lambda: SamplingConfig(temperature=0.0), InvalidArgumentError, "temperature=0.0: must be > 0"),
    (lambda: SamplingConfig(top_k=0), InvalidArgumentError, "top_k=0"),
    (lambda: SamplingConfig(top_p=0.0), InvalidArgumentError, r"top_p=0.0: must lie in \(0, 1\]"),
    (lambda: SamplingConfig(temperature=True), InvalidTypeError, "temperature=True"),
    (lambda: SpeechLayout(10, 8, 4), InvalidArgumentError, "must lie inside the vocabulary"),
    (lambda: SpeechLayout(10, 2, 4, speech_start_id=3), InvalidArgumentError, "must lie outside the speech ids"),
    (lambda: Monitor(false_positive_rate=0.0), InvalidArgumentError, "false_positive_rate"),
    (lambda: Monitor().result(), InvalidArgumentError, "no record to test"),
    (lambda: Monitor().add({"row": 0}), InvalidArgumentError, "has no 'step' field"),
    (lambda: generate(_tiny().train(), None, torch.tensor([[1]]), method="ar", max_new_tokens=1, eos_token_id=None,
                      generator=torch.Generator()), InvalidArgumentError, "is in training mode"),
    (lambda: generate(_tiny().eval(), None, torch.tensor([[1]]), method="beam", max_new_tokens=1,
                      eos_token_id=None, generator=torch.Generator()), InvalidArgumentError, "method='beam'"),
    (lambda: generate(_tiny().eval(), _tiny().eval(), torch.tensor([[1]]), method="pcg", max_new_tokens=1,
                      eos_token_id=None, generator=torch.Generator()), InvalidArgumentError, "groups=None"),
    (lambda: generate(_tiny().eval(), None, torch.tensor([[1, 2]]), attention_mask=torch.tensor([[1, 0]]),
                      method="ar", max_new_tokens=1, eos_token_id=None, generator=torch.Generator()),
     InvalidArgumentError, "must be left padding"),
    (lambda: generate(_tiny().eval(), None, torch.tensor([[1.0]]), method="ar", max_new_tokens=1,
                      eos_token_id=None, generator=torch.Generator()), InvalidTypeError, "int64 tensor"),
    (lambda: generate(_tiny().eval(), None, torch.tensor([[1]]), method="ar", max_new_tokens=0,
                      eos_token_id=None, generator=torch.Generator()), InvalidArgumentError, "max_new_tokens=0"),
    (lambda: generate(_tiny().eval(), _tiny().eval(), torch.tensor([[1]]), method="sd", gamma=0, max_new_tokens=1,
                      eos_token_id=None, generator=torch.Generator()), InvalidArgumentError, "gamma=0"),
    (lambda: generate(_tiny().eval(), None, torch.tensor([[1]]), method="ar", max_new_tokens=1,
                      eos_token_id=None, generator=torch.Generator(), reference="cached"),
     InvalidArgumentError, "reference='cached'"),
]


@pytest.mark.parametrize(("call", "error", "message"), INVALID, ids=[m for _, _, m in INVALID])
def test_invalid_arguments(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()
