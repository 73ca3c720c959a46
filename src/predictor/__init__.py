"""Customer churn risk and lifetime value predictions."""
__version__ = "0.1.0"
