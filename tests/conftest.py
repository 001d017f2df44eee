"""Shared fixtures. Numerics fixtures (``numerics_*``) serve the kernel, model and mathfn tests."""

import numpy as np
import pytest


@pytest.fixture
def numerics_rng() -> np.random.Generator:
    """A fresh, fixed-seed generator per test, so every numerics test is reproducible alone."""
    return np.random.default_rng(20240611)
