"""pcg_verify: the calibrated statistical gate for PCG ports."""

__all__: list[str] = []
