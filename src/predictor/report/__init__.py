"""The HTML report: model quality, customer base, drivers of value and churn, who to act on.

Pure: ``build_report`` takes a trained model, its held-out evaluation frames and (optionally)
scores and per-customer purchase levers, and returns one self-contained HTML page (inline CSS,
figures embedded as base64 PNG, no JavaScript), so the file opens offline and can be mailed
around. Writing the file, and tracking it, is the caller's job (the training and report jobs
of ``predictor.jobs``).

The modules: ``summaries`` (pure frames and numbers: levers, segment and action tables, value
at risk, feature-family shares), ``markup`` (HTML building blocks and number formats),
``quality`` and ``customers`` (the first two sections), and ``build`` (the drivers and
act-first sections, and ``build_report``, which joins them into the page). This package
re-exports only the names used outside it; the rest are imported from their module.
"""

from predictor.report.build import build_report
from predictor.report.markup import SECTIONS
from predictor.report.summaries import action_table, customer_lever, customer_levers

__all__ = ["SECTIONS", "action_table", "build_report", "customer_lever", "customer_levers"]
