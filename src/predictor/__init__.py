"""predictor: customer churn risk and lifetime value (Day One and 13-month) predictions.

Public API (``predictor.api``), symmetric: ``train`` fits models from tables and returns a
``Predictor``; ``save_model`` writes its folder; ``load_model`` reads a folder or an MLflow URI
back into a ``Predictor``; ``score`` scores tables with what ``train`` or ``load_model``
returned. ``PredictorError`` is the base of every expected failure (``ContractError``: bad
input).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "ContractError",
    "Predictor",
    "PredictorError",
    "__version__",
    "load_model",
    "save_model",
    "score",
    "train",
]

if TYPE_CHECKING:  # pragma: no cover
    from predictor.api import Predictor, load_model, save_model, score, train
    from predictor.contract.errors import ContractError
    from predictor.errors import PredictorError

_LAZY = {
    "Predictor": "predictor.api",
    "load_model": "predictor.api",
    "save_model": "predictor.api",
    "score": "predictor.api",
    "train": "predictor.api",
    "ContractError": "predictor.contract.errors",
    "PredictorError": "predictor.errors",
}


def __getattr__(name: str) -> Any:
    """Import the public API lazily so ``import predictor`` stays light and side-effect free."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'predictor' has no attribute {name!r}")
