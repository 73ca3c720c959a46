"""Extending a short-horizon value to the long horizon by the BG/NBD time profile."""

import numpy as np
import pandas as pd

from predictor.modeling.horizon import HorizonExtension


def test_a_fitted_profile_grows_less_than_time_when_customers_drop_out():
    params = {"r": 0.8, "alpha": 4.0, "a": 0.6, "b": 2.5}
    factor = HorizonExtension(params, 3, 13).factor(pd.DataFrame(index=range(4)))
    assert np.all(np.isfinite(factor))
    assert np.all((factor > 1.0) & (factor < 13 / 3))


def test_a_degenerate_fit_extends_like_a_fixed_rate_not_to_nan():
    # fitted on monthly payments of a subscription snapshot: a fixed rate, no dropout
    params = {"r": 1.5e8, "alpha": 6.3e8, "a": 2.1e-9, "b": 0.107}
    factor = HorizonExtension(params, 3, 13).factor(pd.DataFrame(index=range(4)))
    np.testing.assert_allclose(factor, 13 / 3)
