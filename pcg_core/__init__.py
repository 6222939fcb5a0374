"""pcg_core: the reference implementation of Principled Coarse-Grained acceptance.

Math follows the paper (q target, p draft); code says ``target_probs`` and
``draft_probs``. See SPEC.md for the algorithm and the laws.
"""

from pcg_core._baselines import draft_only_verify, ssd_verify, standard_verify
from pcg_core._builders import (
    embedding_digest,
    groups_from_labels,
    groups_from_threshold,
    groups_from_topk,
    singleton_groups,
)
from pcg_core._coarse import coarse_probs, group_masses
from pcg_core._errors import GroupsCacheMismatchError, InvalidArgumentError, InvalidTypeError
from pcg_core._groups import FORMAT_VERSION, WEIGHT_SUM_TOLERANCE, Groups
from pcg_core._validation import SUM_TOLERANCE
from pcg_core._verify import DEFAULT_MAX_THINNING_TRIALS, VerifyResult, verify

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_THINNING_TRIALS",
    "FORMAT_VERSION",
    "SUM_TOLERANCE",
    "WEIGHT_SUM_TOLERANCE",
    "Groups",
    "GroupsCacheMismatchError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "VerifyResult",
    "coarse_probs",
    "draft_only_verify",
    "embedding_digest",
    "group_masses",
    "groups_from_labels",
    "groups_from_threshold",
    "groups_from_topk",
    "singleton_groups",
    "ssd_verify",
    "standard_verify",
    "verify",
]
