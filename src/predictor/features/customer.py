"""Customer family: who the customer is and how long they have been one.

Columns (``customer__`` prefix):

- ``tenure_days``: calendar days from the signup day to the ``as_of`` day (0 on the signup day).
- ``signup_month`` (1-12) and ``signup_weekday`` (0 = Monday): when the customer joined, which
  captures seasonal cohorts (holiday shoppers behave differently).
- one column per further column of ``customers`` (``acquisition_channel`` and any attribute):
  strings and booleans become ``category`` (at most ``MAX_CATEGORIES`` values, rarer ones pooled
  as ``other``), numbers become ``float64``, dates become ``<name>__days_ago`` (days before the
  ``as_of`` day, NaN when later).

Attributes are properties known at signup, so they are used as they are at any cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config import Config
from predictor.features._base import Source, clean_label, day_number, population, to_datetime64

PREFIX = "customer__"
MAX_CATEGORIES = 100
"""A string attribute keeps at most this many categories (most frequent first)."""

_RESERVED = ("customer_id", "signup_date")
_OWN = ("tenure_days", "signup_month", "signup_weekday")


def compute(tables: Source, as_of: pd.Series, config: Config) -> pd.DataFrame:
    """Tenure at ``as_of``, signup season and the customer's attributes."""
    pop = population(tables, as_of)
    signup_day = day_number(pop.signup).astype(np.float64)
    missing = np.isnat(pop.signup)
    signup_day[missing] = np.nan
    tenure = pop.as_of_day - signup_day
    tenure[tenure < 0] = np.nan
    months = pop.signup.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekday = (day_number(pop.signup) + 3) % 7
    columns: dict[str, object] = {
        PREFIX + "tenure_days": tenure,
        PREFIX + "signup_month": np.where(missing, np.nan, months).astype(np.float64),
        PREFIX + "signup_weekday": np.where(missing, np.nan, weekday).astype(np.float64),
    }
    customers = tables.customers
    for col in _attribute_columns(customers):
        columns.update(_attribute(col, customers[col], pop.as_of_day))
    return pop.frame(columns)


def _attribute_columns(customers: pd.DataFrame) -> list[str]:
    """``acquisition_channel`` first, then the other attributes by name."""
    extra = sorted(c for c in customers.columns if c not in _RESERVED)
    if "acquisition_channel" in extra:
        extra.remove("acquisition_channel")
        extra.insert(0, "acquisition_channel")
    return extra


def attribute_name(column: str) -> str:
    """The feature name of a customer attribute (cleaned; never clashes with the own columns)."""
    name = clean_label(column)
    return name + "_attr" if name in _OWN else name


def _attribute(column: str, values: pd.Series, as_of_day: np.ndarray) -> dict[str, object]:
    name = PREFIX + attribute_name(column)
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return {name: to_category(values)}
    if pd.api.types.is_datetime64_any_dtype(dtype):
        days = day_number(to_datetime64(values)).astype(np.float64)
        days[np.isnat(to_datetime64(values))] = np.nan
        ago = as_of_day - days
        ago[ago < 0] = np.nan
        return {name + "__days_ago": ago}
    if pd.api.types.is_numeric_dtype(dtype):
        return {name: values.to_numpy(dtype=np.float64, na_value=np.nan)}
    return {name: to_category(values)}


def to_category(values: pd.Series, cap: int = MAX_CATEGORIES) -> pd.Categorical:
    """Strings (or booleans) as a ``category`` with sorted string categories.

    At most ``cap`` categories are kept; rarer values become ``other`` (ties broken by name), so a
    free-text column cannot blow up the model. Missing values stay missing. The text is hashed
    once (``pd.factorize``); counts and the category of each value follow from its codes.
    """
    text = values.astype("str")
    text = text.where(values.notna())
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    names = [str(u) for u in uniques]
    if len(names) > cap:
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        ranked = sorted(zip(names, counts.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
        kept = {k for k, _ in ranked[: cap - 1]}
        names = [n if n in kept else "other" for n in names]
    categories = sorted(set(names))
    index = {name: i for i, name in enumerate(categories)}
    lookup = np.array([index[n] for n in names] + [-1], dtype=np.int64)  # code -1: missing
    return pd.Categorical.from_codes(lookup[codes], categories=pd.Index(categories, dtype="str"))
