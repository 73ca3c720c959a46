"""Turn a trained model and tables into the contract's score rows (and rejects).

Every feature is computed from one customer's own rows, so scoring a chunk of customers gives
exactly the scores of scoring everyone at once; ``score_in_chunks`` relies on that.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from numbers import Integral

import numpy as np
import pandas as pd

from predictor.contract.errors import ContractError
from predictor.contract.tables import Tables
from predictor.features import EncodedTables, build_day_one_features, build_features
from predictor.features.descriptions import describe
from predictor.keys import contains
from predictor.labels import churn_population
from predictor.model_types import TrainedModel
from predictor.modeling.preprocess import SchemaMismatchError
from predictor.output_schema import SCORES
from predictor.timeline import day_end, parse_as_of, truncate

DAY_ONE_PREFIX = "day_one::"
SCORE_COLUMNS = list(SCORES.required)
"""The contract's score columns, in order (``output_schema.SCORES`` declares their types)."""
INTERVAL_COLUMNS = ["value_13m_p10", "value_13m_p90", "day_one_value_p10", "day_one_value_p90"]
"""The 80% interval of each value score (after the contract's columns, before any drivers)."""
REJECT_COLUMNS = ["customer_id", "reason"]
ACTIVE_COLUMN = "is_active"


def check_drivers(drivers: object, name: str = "drivers") -> int:
    """``drivers`` as the number of top drivers per score: a whole number, 0 or more.

    Raises:
        TypeError: not a whole number (``"3"``, ``2.5``, ``True``).
        ValueError: negative.

    """
    if isinstance(drivers, bool) or not isinstance(drivers, Integral):
        raise TypeError(f"{name}: expected a whole number of drivers (0 or more), got {drivers!r}")
    if drivers < 0:
        raise ValueError(f"{name}: {drivers} is negative; pass 0 for no drivers, K for the top K")
    return int(drivers)


def check_frame(frame: object, name: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame: a scoring frame (``Predictor.features``) is wanted."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{name}: expected a pandas DataFrame (a scoring frame, as Predictor.features "
            f"returns), got {type(frame).__name__}"
        )
    return frame


def active_customers(tables: Tables, as_of: pd.Timestamp, model: TrainedModel) -> pd.Index:
    """Customers in the churn population at the cutoff, by the rule the model was trained with."""
    return churn_population(tables, as_of, model.config.churn, model.info["churn_rule"])


def scoring_frame(
    tables: Tables, as_of: pd.Timestamp, model: TrainedModel, allow_missing: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per customer signed up by ``as_of``: the input of ``predict_frame`` and pyfunc.

    Holds the current features, the Day One features (prefixed ``day_one::``) and the
    ``is_active`` flag (in the churn population at the cutoff). ``allow_missing``: absent
    tables the caller accepts (see ``check_features``).
    """
    frame = built_frame(tables, as_of, model, allow_missing)
    frame = frame.reindex(columns=scoring_columns(model))
    frame.index.name = "customer_id"
    return frame


def built_frame(
    tables: Tables, as_of: pd.Timestamp, model: TrainedModel, allow_missing: Iterable[str] = ()
) -> pd.DataFrame:
    """``scoring_frame`` before it takes the model's columns: only the features ``tables`` build.

    A feature the model learned but absent here has no source in the input (its table or
    column is absent); ``check_features`` refuses too many of them.
    """
    known = truncate(tables, as_of)
    encoded = EncodedTables(known)  # one encoding of the event tables for both views
    bgnbd = model.info.get("bgnbd_params")
    current = build_features(known, as_of, model.config, bgnbd, encoded=encoded)
    day_one = build_day_one_features(known, model.config, encoded).add_prefix(DAY_ONE_PREFIX)
    frame = current.join(day_one, how="left")
    # keys.contains, not Index.isin: pandas' isin of Arrow text made a Python scalar per active
    # customer (1.8 s of the scoring frame's 20 s at 1,000,000 customers; issue 19)
    active = pd.Series(contains(active_customers(known, as_of, model), frame.index), frame.index)
    frame = pd.concat([frame, active.rename(ACTIVE_COLUMN)], axis=1)
    frame = fill_absent_label_columns(frame, scoring_columns(model))
    check_features(frame, model, known, allow_missing)
    return frame


LABEL_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("channels__channel_90d__", "channels__interactions_90d", None),
    ("channels__kind_90d__", "channels__interactions_90d", None),
    ("support__tickets__", "support__tickets", None),
    ("orders__channel_share__", "orders__n_channels", "orders__count"),
)
"""Per-value feature columns (one per channel, kind or category seen in the data), as
``(prefix, column present when the family ran, denominator of a share or None for a count)``."""


def fill_absent_label_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Add the per-value columns of ``columns`` that ``frame`` lacks, with the value they have.

    Families make a column per value seen in the scored rows (``channels__channel_90d__sms``),
    so a batch of customers without any sms touch has no such column, although each of them
    has a count of 0 (and a share of 0 when they ordered at all, NaN when not). Filling them
    here makes the scores of a customer independent of who is scored with them: chunked
    scoring equals one-shot scoring. Columns of a family that did not run (its table or
    column absent) stay missing, as in one-shot scoring.
    """
    added = {}
    for column in columns:
        if column in frame.columns:
            continue
        view = DAY_ONE_PREFIX if column.startswith(DAY_ONE_PREFIX) else ""
        name = column.removeprefix(view)
        for prefix, marker, denominator in LABEL_COLUMNS:
            if not name.startswith(prefix) or view + marker not in frame.columns:
                continue
            zero = pd.Series(0.0, index=frame.index)
            if denominator is not None:
                zero = zero.where(frame[view + denominator] > 0)
            added[column] = zero
    return pd.concat([frame, pd.DataFrame(added)], axis=1) if added else frame


def current_features(model: TrainedModel) -> list[str]:
    """Features of the current-view models (value and churn) the model holds, in a fixed order."""
    return list(
        dict.fromkeys(f for est in (model.value, model.churn) if est for f in est.schema_.features_)
    )


def scoring_columns(model: TrainedModel) -> list[str]:
    """Every column a scoring frame may carry for this model, in a fixed order."""
    features = model.day_one.schema_.features_ if model.day_one is not None else []
    day_one = [DAY_ONE_PREFIX + c for c in features]
    return [*current_features(model), *day_one, ACTIVE_COLUMN]


def pyfunc_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The scoring frame in MLflow-friendly types: categoricals as text, other columns float64.

    ``customer_id`` becomes a column. This is what the MLflow pyfunc model's signature expects.
    """
    out = frame.reset_index() if "customer_id" not in frame.columns else frame.copy()
    for col in out.columns:
        if col == "customer_id":
            out[col] = out[col].astype(str)
        elif isinstance(out[col].dtype, pd.CategoricalDtype) or out[col].dtype == object:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        else:
            out[col] = out[col].astype(np.float64)
    return out


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    day_one_cols = [c for c in frame.columns if c.startswith(DAY_ONE_PREFIX)]
    day_one = frame[day_one_cols].rename(columns=lambda c: c[len(DAY_ONE_PREFIX) :])
    current = frame.drop(columns=day_one_cols + [ACTIVE_COLUMN], errors="ignore")
    active = frame[ACTIVE_COLUMN] if ACTIVE_COLUMN in frame else pd.Series(True, index=frame.index)
    return current, day_one, active.astype(bool)


def top_drivers(contribs: pd.DataFrame, k: int, score: str) -> pd.DataFrame:
    """The ``k`` largest contributions by magnitude per row, with plain-language names."""
    values = contribs.to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    names = np.asarray(contribs.columns)[order]
    picked = np.take_along_axis(values, order, axis=1)
    out = {}
    for j in range(order.shape[1]):
        out[f"{score}_driver_{j + 1}"] = [describe(n) for n in names[:, j]]
        out[f"{score}_driver_{j + 1}_feature"] = names[:, j]
        out[f"{score}_driver_{j + 1}_contribution"] = picked[:, j]
    return pd.DataFrame(out, index=contribs.index)


def predict_frame(
    model: TrainedModel, frame: pd.DataFrame, as_of: pd.Timestamp | None, drivers: int = 0
) -> pd.DataFrame:
    """Scores for a scoring frame (see ``scoring_frame``), in the contract's columns.

    A target the model was trained without (skipped at training, see ``info["skipped"]``)
    leaves its score empty: NaN, and a null segment or band.
    """
    current, day_one, active = _split(frame)
    n = len(frame)
    out = pd.DataFrame(index=frame.index)
    out["as_of"] = pd.Timestamp(as_of).normalize() if as_of is not None else pd.NaT
    nan = (np.full(n, np.nan),) * 3
    with_day_one = model.day_one is not None and len(day_one.columns)
    first_day = model.day_one.predict_with_interval(day_one) if with_day_one else nan
    value = model.value.predict_with_interval(current) if model.value else nan
    out["day_one_value"], out["value_13m"] = first_day[0], value[0]
    out["churn_risk"] = (
        np.where(active, model.churn.predict_proba(current)[:, 1], 1.0)
        if model.churn is not None
        else np.full(n, np.nan)
    )
    out["value_segment"] = model.segmenter.value_segment(out["value_13m"], active)
    out["risk_band"] = model.segmenter.risk_band(out["churn_risk"], active)
    if model.value is None:
        out["value_segment"] = pd.Series(None, index=out.index, dtype=object)
    if model.churn is None:
        out["risk_band"] = pd.Series(None, index=out.index, dtype=object)
    out["model_version"] = model.info.get("model_version", "unversioned")
    out["value_13m_p10"], out["value_13m_p90"] = value[1:]
    out["day_one_value_p10"], out["day_one_value_p90"] = first_day[1:]
    if drivers > 0 and len(frame):
        out = out.join(score_drivers(model, current, day_one, active, drivers))
    out.index.name = "customer_id"
    return float64_scores(out.reset_index())


def score_drivers(
    model: TrainedModel,
    current: pd.DataFrame,
    day_one: pd.DataFrame,
    active: pd.Series,
    k: int,
) -> list[pd.DataFrame]:
    """The top ``k`` drivers of each score the model has, one frame per score.

    The churn drivers of customers outside the churn population are empty: their churn risk
    is 1 by rule, not by the model (as ``explain`` says), so the model's contributions would
    explain a score that was never used.
    """
    parts = []
    for name, est, x in (
        ("day_one_value", model.day_one, day_one),
        ("value_13m", model.value, current),
        ("churn_risk", model.churn, current),
    ):
        if est is None:
            continue
        part = top_drivers(est.contributions(x)[0], k, name)
        parts.append(_empty_rows(part, ~active) if name == "churn_risk" else part)
    return parts


def _empty_rows(drivers: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """``drivers`` with the ``rows`` marked True emptied: no name or feature, no contribution."""
    out = drivers.copy()
    mask = rows.reindex(out.index, fill_value=False).to_numpy(dtype=bool)
    for column in out.columns:
        if column.endswith("_contribution"):
            out[column] = out[column].where(~mask)
        else:
            out[column] = out[column].astype(object).where(~mask, None)
    return out


def float64_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Every numeric score column as float64 (XGBoost predicts float32), as the files hold them."""
    floats = [c for c in scores.columns if pd.api.types.is_float_dtype(scores[c].dtype)]
    return scores.astype(dict.fromkeys(floats, np.float64)) if floats else scores


def pyfunc_predict(
    model: TrainedModel, model_input: pd.DataFrame, params: dict | None = None
) -> pd.DataFrame:
    """What the MLflow pyfunc model answers: scores of a scoring frame, with its params.

    ``params["as_of"]`` (a day ``YYYY-MM-DD``, checked by ``parse_as_of`` as the API checks
    it) stamps the rows' ``as_of`` (missing: NaT, the frame does not say when its features
    were computed); ``params["drivers"]`` adds the top-K drivers per score. ``customer_id``
    is a column (the index is still accepted, with a warning).
    """
    params = params or {}
    frame = customer_index(check_frame(model_input, "model_input"))
    raw = params.get("as_of")
    as_of = parse_as_of(raw, "params.as_of") if raw not in (None, "") else None
    drivers = check_drivers(_whole_number(params.get("drivers") or 0), "params.drivers")
    return predict_frame(model, frame, as_of, drivers)


def _whole_number(value: object) -> object:
    """A param sent as text or a float (``"3"``, ``3.0``: JSON and MLflow do) as an int."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def score(
    model: TrainedModel,
    tables: Tables,
    as_of: pd.Timestamp,
    drivers: int = 0,
    allow_missing: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every customer of ``tables`` as of a date; the others go to rejects with a reason.

    ``allow_missing``: tables the model was trained with that the caller knowingly scores
    without (``--allow-missing``); their features are missing for everyone.
    """
    as_of = parse_as_of(as_of)
    frame = scoring_frame(tables, as_of, model, allow_missing)
    scores = predict_frame(model, frame, as_of, check_drivers(drivers))
    return scores, late_rejects(tables, as_of)


def late_rejects(tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
    """The customers who signed up after ``as_of`` (no scoring frame row), with the reason."""
    as_of = pd.Timestamp(as_of).normalize()
    customers = tables.customers
    late = customers["signup_date"] > day_end(as_of)
    rejects = pd.DataFrame(
        {
            "customer_id": customers.loc[late, "customer_id"].astype(str),
            "reason": f"signed up after the as-of date {as_of.date()}",
        }
    )
    return rejects.reset_index(drop=True)


FAMILY_TABLES: dict[str, str] = {
    "customer": "customers",
    "orders": "orders",
    "bgnbd": "orders",
    "subscriptions": "subscriptions",
    "onboarding": "onboarding",
    "support": "support_tickets",
    "channels": "interactions",
    "nps": "nps",
}
"""The input table each feature family (column prefix) is built from."""


def check_features(
    frame: pd.DataFrame, model: TrainedModel, tables: Tables, allow_missing: Iterable[str] = ()
) -> None:
    """Refuse a scoring frame that lacks too many of the model's current features.

    A few absent families (an optional table not given) only leave their features missing;
    beyond the schema's ``max_missing_share`` the input is not what the model was trained on.
    The features of a table in ``allow_missing`` that is absent do not count: the user
    accepted scoring without it (``--allow-missing``), after a warning per table.

    Raises:
        SchemaMismatchError: naming the share of missing features, the tables missing and
            the ``--allow-missing`` options that accept them.

    """
    wanted = current_features(model)
    schemas = [e.schema_ for e in (model.churn, model.value) if e is not None]
    share = schemas[0].max_missing_share if schemas else 1.0
    accepted = set(allow_missing) & set(_absent_tables(model, tables))
    missing = [
        c
        for c in wanted
        if c not in frame.columns and FAMILY_TABLES.get(c.split("__", 1)[0]) not in accepted
    ]
    if len(missing) > share * len(wanted):
        raise SchemaMismatchError(
            f"{len(missing)} of {len(wanted)} model features cannot be built from the input "
            f"(e.g. {', '.join(missing[:5])}){_missing_tables_hint(model, tables, accepted)}"
        )


def _absent_tables(model: TrainedModel, tables: Tables) -> list[str]:
    """The tables the model learned from that the scored input lacks, sorted."""
    families = {c.split("__", 1)[0] for c in current_features(model)}
    needed = {FAMILY_TABLES[f] for f in families if f in FAMILY_TABLES}
    return sorted(t for t in needed if tables.get(t) is None)


def _missing_tables_hint(model: TrainedModel, tables: Tables, accepted: set[str]) -> str:
    """Name the absent tables the model learned from, and how to score without them."""
    missing = [t for t in _absent_tables(model, tables) if t not in accepted]
    if not missing:
        return ""
    options = " ".join(f"--allow-missing {t}" for t in missing)
    return (
        f"; the model was trained with tables the input lacks: {', '.join(missing)} "
        f"(provide them, or pass {options} to score with their features missing)"
    )


def chunk_ids(customer_ids: pd.Series, chunk_size: int) -> Iterable[pd.Index]:
    """Consecutive groups of at most ``chunk_size`` customer ids."""
    ids = pd.Index(customer_ids.astype(str))
    for start in range(0, len(ids), chunk_size):
        yield ids[start : start + chunk_size]


def score_in_chunks(
    model: TrainedModel,
    tables: Tables,
    as_of: pd.Timestamp,
    chunk_size: int,
    drivers: int = 0,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score customers chunk by chunk (each chunk with all of its customers' rows)."""
    scores, rejects = [], []
    groups = list(chunk_ids(tables.customers["customer_id"], chunk_size))
    for part in tables.partition(groups):
        s, r = score(model, part, as_of, drivers)
        scores.append(s)
        rejects.append(r)
        if on_chunk is not None:
            on_chunk(len(part.customers))
    return pd.concat(scores, ignore_index=True), pd.concat(rejects, ignore_index=True)


def customer_index(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame indexed by its ``customer_id`` column, as scoring works on it internally.

    Frames with ``customer_id`` as the index (the convention before 0.2.0) are still accepted,
    with a ``FutureWarning``: pass it as a column.

    Raises:
        ContractError: the frame has no ``customer_id`` column.

    """
    if "customer_id" in frame.columns:
        return frame.set_index("customer_id")
    if frame.index.name == "customer_id":
        warnings.warn(
            "customer_id as the index of a scoring frame is deprecated: pass it as a column "
            "(frame.reset_index()), as Predictor.features returns it",
            FutureWarning,
            stacklevel=3,
        )
        return frame
    raise ContractError(
        "scoring frame: no customer_id column (found: "
        f"{', '.join(map(str, frame.columns[:5]))}{', ...' if frame.shape[1] > 5 else ''})",
        table="scoring frame",
        column="customer_id",
    )
