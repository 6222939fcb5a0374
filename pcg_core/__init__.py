"""pcg_core: the reference implementation of Principled Coarse-Grained acceptance.

Math follows the paper (q target, p draft); code says ``target_probs`` and
``draft_probs``. The algorithm and its laws are in docs/algorithm.md and docs/laws.md.

This module is a lazy façade (PEP 562): each public name is imported from its
module on first use, so ``import pcg_core.errors`` or ``import
pcg_core.validation`` loads no torch. ``from pcg_core import verify`` works as
usual.

Modules, bottom up; each imports only modules listed before it
(``tests/core/test_import_graph.py`` checks that there is no cycle):

- ``errors`` (the exception hierarchy), ``atomic`` (atomic file writes),
  ``lazy`` (the lazy-façade loader of every package of the project): public;
- ``_rules`` (scalars, integer arrays), ``_rows`` (probability rows and their
  tolerance);
- ``_csr`` (the O(nnz) invariants), ``_groups_file`` (the ``.npz`` format),
  ``_groups`` (the ``Groups`` type);
- ``_inputs`` (the sampler's inputs), then ``validation``, public, which
  re-exports the rules of ``_rules``, ``_rows`` and ``_inputs``;
- ``_similarity`` (tiles), ``_relation`` (CSR relation ops), ``_builder_args``
  (builder arguments and the cache), ``_builders`` (group builders);
- ``_sampling`` (categorical draws), ``_coarse`` (coarse masses), ``_verify``
  (PCG), ``_baselines`` (token-level samplers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pcg_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from pcg_core._baselines import draft_only_verify, ssd_verify, standard_verify
    from pcg_core._builders import (
        embedding_digest,
        groups_from_labels,
        groups_from_threshold,
        groups_from_topk,
        singleton_groups,
    )
    from pcg_core._coarse import coarse_probs, group_masses
    from pcg_core._groups import Groups
    from pcg_core._groups_file import FORMAT_VERSION
    from pcg_core._verify import DEFAULT_MAX_THINNING_TRIALS, VerifyResult, verify
    from pcg_core.errors import (
        DesignError,
        GroupsCacheMismatchError,
        InvalidArgumentError,
        InvalidTypeError,
        PCGError,
    )
    from pcg_core.validation import SUM_TOLERANCE

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_THINNING_TRIALS",
    "FORMAT_VERSION",
    "SUM_TOLERANCE",
    "DesignError",
    "Groups",
    "GroupsCacheMismatchError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "PCGError",
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

# Public name -> the module that defines it.
_MODULE_OF: dict[str, str] = {
    "DEFAULT_MAX_THINNING_TRIALS": "pcg_core._verify",
    "FORMAT_VERSION": "pcg_core._groups_file",
    "SUM_TOLERANCE": "pcg_core.validation",
    "DesignError": "pcg_core.errors",
    "Groups": "pcg_core._groups",
    "GroupsCacheMismatchError": "pcg_core.errors",
    "InvalidArgumentError": "pcg_core.errors",
    "InvalidTypeError": "pcg_core.errors",
    "PCGError": "pcg_core.errors",
    "VerifyResult": "pcg_core._verify",
    "coarse_probs": "pcg_core._coarse",
    "draft_only_verify": "pcg_core._baselines",
    "embedding_digest": "pcg_core._builders",
    "group_masses": "pcg_core._coarse",
    "groups_from_labels": "pcg_core._builders",
    "groups_from_threshold": "pcg_core._builders",
    "groups_from_topk": "pcg_core._builders",
    "singleton_groups": "pcg_core._builders",
    "ssd_verify": "pcg_core._baselines",
    "standard_verify": "pcg_core._baselines",
    "verify": "pcg_core._verify",
}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF, [*__all__, "__version__"])
