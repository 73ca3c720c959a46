"""The fitted, column-wise preprocessing step: a frozen feature schema.

Learns, at fit, the ordered feature list and the categories of each categorical column, and
re-applies them at prediction: columns are reordered, missing optional columns become NaN,
unseen categories become missing (XGBoost's native categorical support routes them with the
missing values). A column that is entirely empty or constant at fit carries no information
and is dropped (``dropped_`` names it and why): in particular a categorical column with no
category never reaches XGBoost, which cannot build a split on one. It is stored as JSON, never
pickled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from predictor.errors import PredictorError


class SchemaMismatchError(PredictorError, ValueError):
    """The frame to score does not match the features the model was trained on."""


class FeatureSchema(TransformerMixin, BaseEstimator):
    """Align a feature frame to the columns and categories seen at fit.

    Parameters
    ----------
    max_missing_share:
        Refuse to transform when more than this share of the trained features is absent
        (a different feature set, not a missing optional table).

    """

    def __init__(self, *, max_missing_share: float = 0.5) -> None:
        self.max_missing_share = max_missing_share

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureSchema:
        """Record the (sorted, so row-source independent) features and the categories of categoricals.

        Entirely empty and constant columns are left out and recorded in ``dropped_``; so a
        categorical column without any category (a text column blank in every row), which
        XGBoost cannot take, is never a feature.
        """
        self.dropped_ = {str(col): why for col in X.columns if (why := uninformative(X[col]))}
        self.features_ = sorted(str(c) for c in X.columns if str(c) not in self.dropped_)
        self.categories_ = {
            str(col): [str(c) for c in X[col].cat.categories]
            for col in X.columns
            if isinstance(X[col].dtype, pd.CategoricalDtype) and str(col) not in self.dropped_
        }
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return ``X`` with the trained columns, order and categories."""
        check_is_fitted(self, "features_")
        missing = [c for c in self.features_ if c not in X.columns]
        if len(missing) > self.max_missing_share * len(self.features_):
            raise SchemaMismatchError(
                f"{len(missing)} of {len(self.features_)} model features are missing from the "
                f"input (e.g. {', '.join(missing[:5])}); was it built for another model?"
            )
        columns = {}
        for col in self.features_:
            values = X[col] if col in X.columns else pd.Series(np.nan, index=X.index)
            if col in self.categories_:
                columns[col] = _as_categories(values, self.categories_[col])
            elif values.dtype == np.float64:
                columns[col] = values.to_numpy()
            else:
                columns[col] = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
        return pd.DataFrame(columns, index=X.index)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        check_is_fitted(self, "features_")
        return {
            "max_missing_share": self.max_missing_share,
            "features": self.features_,
            "categories": self.categories_,
            "dropped": getattr(self, "dropped_", {}),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FeatureSchema:
        """Rebuild a fitted schema from ``to_dict`` output."""
        schema = cls(max_missing_share=state["max_missing_share"])
        schema.features_ = list(state["features"])
        schema.categories_ = {k: list(v) for k, v in state["categories"].items()}
        schema.dropped_ = dict(state.get("dropped", {}))
        return schema


def _as_categories(values: pd.Series, categories: list[str]) -> pd.Categorical:
    """``values`` as a categorical over exactly ``categories`` (any other value is missing).

    A column already holding those categories in that order is passed on as it is.
    """
    dtype = values.dtype
    if (
        isinstance(dtype, pd.CategoricalDtype)
        and not dtype.ordered
        and dtype.categories.dtype == object
        and list(dtype.categories) == categories
    ):
        return values.array
    # matched on the distinct values: a few per column against a million rows (issue 19)
    codes, distinct = pd.factorize(values.astype("string"))
    found = pd.Index(categories).get_indexer(pd.Index(distinct, dtype=object))
    if not len(found):
        return pd.Categorical.from_codes(np.full(len(values), -1), categories=categories)
    return pd.Categorical.from_codes(
        np.where(codes >= 0, found[np.maximum(codes, 0)], -1), categories=categories
    )


def uninformative(column: pd.Series) -> str | None:
    """Why a feature column cannot inform a model ("entirely empty", "constant"), else None.

    A column with one value and some missing rows is kept: being missing can be informative.
    """
    present = column.dropna()
    if present.empty:
        return "entirely empty"
    if present.nunique() == 1 and len(present) == len(column):
        return "constant"
    return None
