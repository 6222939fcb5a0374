"""The within-group swap: every swapped token stays in one of its groups, at the stated share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pcg_core import groups_from_labels, singleton_groups
from pcg_core.errors import InvalidArgumentError, InvalidTypeError
from pcg_verify.e2e import SpeechLayout
from pcg_verify.tts import fsq_prefix_groups, swap_within_groups

LAYOUT = SpeechLayout(vocab_size=10 + 65_536, speech_offset=10, num_speech=65_536)


def test_swaps_stay_inside_the_groups_and_change_about_15_of_16_tokens() -> None:
    groups = fsq_prefix_groups(LAYOUT)  # codes k // 16: groups of 16
    codes = np.random.default_rng(1).integers(0, 65_536, 4_000)
    swapped, changed = swap_within_groups(codes, groups, LAYOUT, rng=np.random.default_rng(2))
    assert np.array_equal(swapped // 16, codes // 16)
    assert changed == int(np.count_nonzero(swapped != codes))
    # Each token is replaced by a uniform member of its 16: it changes with probability 15/16. Two-sided exact
    # binomial test at level 1e-6 (the seeded draw is fixed; the level bounds how surprising it may be).
    assert stats.binomtest(changed, codes.size, 15 / 16).pvalue > 1e-6
    again, _ = swap_within_groups(codes, groups, LAYOUT, rng=np.random.default_rng(2))
    assert np.array_equal(again, swapped)


def test_overlapping_groups_use_the_membership_weights() -> None:
    # Speech codes 0..2 (ids 10..12): groups {10, 11} and {11, 12} from a threshold-like relation; code 1 is in
    # both, with weight 1/2 each, so it goes to 0, 1 or 2 with probabilities 1/4, 1/2, 1/4.
    layout = SpeechLayout(vocab_size=13, speech_offset=10, num_speech=3)
    from pcg_core import Groups

    ptr = np.array([*range(11), 12, 14])
    members = np.array([*range(10), 10, 11, 11, 12])
    groups = Groups.from_memberships(13, ptr, members).validate()
    swapped, _ = swap_within_groups(np.ones(8_000, dtype=np.int64), groups, layout, rng=np.random.default_rng(0))
    counts = np.bincount(swapped, minlength=3)
    # Exact multinomial law (1/4, 1/2, 1/4); chi-square goodness of fit at level 1e-6 on a fixed seeded draw.
    assert stats.chisquare(counts, 8_000 * np.array([0.25, 0.5, 0.25])).pvalue > 1e-6


def test_nothing_changes_with_singletons_or_fraction_zero() -> None:
    codes = np.arange(0, 65_536, 97)
    assert swap_within_groups(codes, singleton_groups(LAYOUT.vocab_size), LAYOUT,
                              rng=np.random.default_rng(0))[1] == 0
    assert swap_within_groups(codes, fsq_prefix_groups(LAYOUT), LAYOUT, fraction=0.0,
                              rng=np.random.default_rng(0))[1] == 0


def test_bad_arguments() -> None:
    groups = fsq_prefix_groups(LAYOUT)
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidArgumentError, match=r"codes=.*must lie in \[0, 65536\)"):
        swap_within_groups([65_536], groups, LAYOUT, rng=rng)
    with pytest.raises(InvalidArgumentError, match=r"fraction=1\.5"):
        swap_within_groups([1], groups, LAYOUT, fraction=1.5, rng=rng)
    with pytest.raises(InvalidArgumentError, match="must cover the layout's"):
        swap_within_groups([1], singleton_groups(5), LAYOUT, rng=rng)
    with pytest.raises(InvalidTypeError, match=r"must be a numpy\.random\.Generator"):
        swap_within_groups([1], groups, LAYOUT, rng=0)  # type: ignore[arg-type]
    mixed = groups_from_labels([0, 0, 1])  # a speech code grouped with a text id
    with pytest.raises(InvalidArgumentError, match="grouped with a non-speech id"):
        swap_within_groups(np.zeros(50, dtype=np.int64), mixed, SpeechLayout(3, 1, 2), rng=rng)
