"""predictor: customer churn risk and lifetime value (Day One and 13-month) predictions.

Public API: ``load_model`` / ``Predictor`` to score with a trained model, ``train`` to fit
models from tables in code, ``score`` to score tables, and ``ContractError`` for bad input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ContractError", "Predictor", "__version__", "load_model", "score", "train"]

if TYPE_CHECKING:  # pragma: no cover
    from predictor.api import Predictor, load_model
    from predictor.contract.errors import ContractError
    from predictor.scoring import score
    from predictor.training import train

_LAZY = {
    "Predictor": "predictor.api",
    "load_model": "predictor.api",
    "ContractError": "predictor.contract.errors",
    "score": "predictor.scoring",
    "train": "predictor.training",
}


def __getattr__(name: str) -> Any:
    """Import the public API lazily so ``import predictor`` stays light and side-effect free."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'predictor' has no attribute {name!r}")
