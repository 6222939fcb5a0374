"""The standard and thorough budgets with the four fixed engine families in place of their designed cases.

The families (``pcg_verify.cases._families``) are fixed recipes, cheaper than a whole covering array, with
known dimensions: tests that need one case of a given engine shape (a codec row with a thin tail, an
unaligned vocabulary at γ = 8, …) run it through these budgets, whose drawn cases and seeds are the named
budgets' own.
"""

from __future__ import annotations

import dataclasses

from pcg_verify.budgets import BUDGETS, Budget
from pcg_verify.cases._families import FAMILIES


def with_families(name: str) -> Budget:
    """Budget ``name`` with the families in place of its designed cases (named ``<name>-families``)."""
    budget = BUDGETS[name]
    return dataclasses.replace(budget, name=f"{name}-families", families=tuple(FAMILIES), designed=0,
                               cases=budget.drawn + len(FAMILIES))


STANDARD_FAMILIES = with_families("standard")
THOROUGH_FAMILIES = with_families("thorough")


def family_index(name: str, budget: Budget = STANDARD_FAMILIES) -> int:
    """The case index of family ``name`` in ``budget``."""
    return budget.drawn + budget.families.index(name)
