"""Snapshot data: predictor's churn model vs a logistic regression on the same features vs the truth.

The single-snapshot sample (``predictor.sample.snapshot``) is trained as a user would
(``churn.horizon_days=31``; only churn, since the comparison is about churn), which puts churn
on a customer split. The comparison is then made on an *independent* snapshot of new customers
(another seed) scored as of the snapshot date, so every number is on customers no model saw:

- ``model``: ``predictor``'s churn risk;
- ``logistic_regression``: scikit-learn's logistic regression on the same feature frame
  (categoricals one-hot, missing numbers imputed with the median, standardised);
- ``best achievable (truth)``: the planted churn probability.

Run: ``python benchmarks/bench_snapshot.py [--customers 5000] [--seed 0]``; prints a markdown
table (for ``benchmarks/analysis.md``, "Snapshot data").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from bench_markdown import table as markdown_table
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from predictor.config import Config
from predictor.features import build_features
from predictor.sample.snapshot import generate_snapshot
from predictor.scoring import score
from predictor.training import train


def logistic_regression(X: pd.DataFrame, y: np.ndarray) -> object:
    """A logistic regression pipeline on a feature frame (the usual analyst's baseline)."""
    X = X.loc[:, X.notna().any()]
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=2000, C=1.0))
    return model.fit(_as_text(X, cats), y), list(X.columns), cats


def _as_text(X: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    X = X.copy()
    for c in cats:
        X[c] = X[c].astype("string").fillna("(missing)").astype(object)
    return X


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, log loss and Brier score of churn probabilities."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "roc_auc": roc_auc_score(y, p),
        "log_loss": log_loss(y, p, labels=[0, 1]),
        "brier": brier_score_loss(y, p),
    }


def run(customers: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Train on one snapshot, compare on an independent one; returns the table and facts."""
    fit_data = generate_snapshot(customers, seed)
    fresh = generate_snapshot(customers, seed + 1000)
    config = Config.model_validate(
        {"churn": {"horizon_days": 31}, "models": ["churn"], "model": {"random_state": seed}}
    )
    start = time.perf_counter()
    model, evaluation = train(fit_data.tables, config)
    seconds = time.perf_counter() - start
    as_of = fit_data.as_of
    scores = score(model, fresh.tables, as_of)[0].set_index("customer_id")
    truth = fresh.truth
    y = truth["churned"].to_numpy(dtype=int)
    X_fit = build_features(fit_data.tables, as_of, config)
    lr, cols, cats = logistic_regression(X_fit, fit_data.truth.loc[X_fit.index, "churned"])
    X_new = build_features(fresh.tables, as_of, config).loc[truth.index]
    rows = {
        "model": metrics(y, scores.loc[truth.index, "churn_risk"].to_numpy()),
        "logistic_regression": metrics(y, lr.predict_proba(_as_text(X_new[cols], cats))[:, 1]),
        "best achievable (truth)": metrics(y, truth["true_churn_prob"].to_numpy()),
    }
    table = pd.DataFrame(rows).T
    facts = {
        "customers": customers,
        "seed": seed,
        "churn_rate": float(y.mean()),
        "train_seconds": seconds,
        "evaluation": model.info["evaluation"]["churn"],
        "customer_split_auc": float(evaluation.tasks["churn"].table.loc["model", "roc_auc"]),
        "share_of_truth_auc": float(table.loc["model", "roc_auc"] / table.iloc[-1]["roc_auc"]),
    }
    return table, facts


def main() -> None:
    """Print the comparison as markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table, facts = run(args.customers, args.seed)
    print(facts)
    print(markdown_table(table, digits=4))


if __name__ == "__main__":
    main()
