"""The champion-versus-challenger job on the registered versions of a model.

What ``predictor promote`` and ``predictor train --promote auto`` run; the decision rule itself
is in ``predictor.promotion`` (pure), the registry aliases and tags in ``predictor.tracking``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from predictor.contract.tables import Tables
from predictor.errors import PredictorError


class PromotionError(PredictorError):
    """Champion and challenger cannot be compared: a role is unset, or a metric is unknown."""


def check_promote_metrics(
    metrics: list[str], option: str = "tracking.promote_metrics"
) -> list[str]:
    """``metrics`` when each names a known ``target.metric``; else ``PromotionError``.

    ``option`` is how the user gave them (``--metrics`` on the command line).
    """
    from predictor.config import check_metric_names

    try:
        check_metric_names(metrics)
    except ValueError as exc:
        raise PromotionError(str(exc).replace("tracking.promote_metrics", option)) from exc
    return metrics


@dataclass(frozen=True)
class PromotionRun:
    """Champion versus challenger: the versions, where they were compared and the decision.

    ``heldout`` and ``decision`` are ``None`` when the challenger already is the champion.
    """

    champion: str
    challenger: str
    heldout: Any = None
    decision: Any = None


def compare_registered(name: str, uri: str, metrics: list[str], tables: Tables) -> PromotionRun:
    """Compare the registered champion and challenger of ``name`` on ``tables``; promote if better.

    Both are scored on the newest held-out cutoffs of ``tables`` (``promotion``); the decision
    is tagged on both versions and ``champion`` moves when the challenger wins.
    """
    from predictor.api import load_model
    from predictor.promotion import compare, evaluate_at, newest_heldout
    from predictor.tracking import champion_and_challenger
    from predictor.tracking import promote as move_champion

    versions = champion_and_challenger(name)
    champ, chall = versions["champion"], versions["challenger"]
    if champ is None or chall is None:
        raise PromotionError(f"{name}: needs both a champion and a challenger to compare")
    if champ == chall:
        return PromotionRun(champ, chall)
    models = {
        role: load_model(f"models:/{name}/{version}", uri).model
        for role, version in (("champion", champ), ("challenger", chall))
    }
    heldout = newest_heldout(tables, models["challenger"])
    scores = {
        role: evaluate_at(model, tables, heldout, models["challenger"])
        for role, model in models.items()
    }
    decision = compare(scores["champion"], scores["challenger"], metrics)
    move_champion(name, champ, chall, decision.summary(), decision.promote)
    return PromotionRun(champ, chall, heldout, decision)
