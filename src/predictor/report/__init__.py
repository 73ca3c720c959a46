"""The HTML report: model quality, customer base, drivers of value and churn, who to act on.

Pure: ``build_report`` takes a trained model, its held-out evaluation frames and (optionally)
scores and per-customer purchase levers, and returns one self-contained HTML page (inline CSS,
figures embedded as base64 PNG, no JavaScript), so the file opens offline and can be mailed
around. Writing the file, and tracking it, is the caller's job (the training and report jobs
of ``predictor.jobs``).

The modules: ``summaries`` (pure frames and numbers: levers, segment and action tables, value
at risk, feature-family shares), ``markup`` (HTML building blocks and number formats),
``quality`` and ``customers`` (the first two sections), and ``build`` (the drivers and
act-first sections, and ``build_report``, which joins them into the page).
"""

from predictor.report.build import (
    MAX_SCATTER_POINTS,
    act_first_section,
    build_report,
    drivers_section,
)
from predictor.report.customers import (
    BAND_NAMES,
    LEVER_ORDER,
    action_matrix,
    customers_section,
    empty_band_notes,
    lever_legend,
)
from predictor.report.markup import (
    CSS,
    SECTIONS,
    facts,
    figure_uri,
    image,
    missing,
    money,
    num,
    page,
    panel,
    pct,
    points,
    section,
    signed_money,
    table,
)
from predictor.report.quality import (
    CONSTANT_PREDICTORS,
    HEADLINES,
    PREDICTOR_NAMES,
    headline_comparison,
    quality_section,
    skipped_note,
    verdict,
)
from predictor.report.summaries import (
    FAMILY_NAMES,
    LEVER_WINDOW_DAYS,
    SEGMENT_ORDER,
    action_table,
    customer_lever,
    customer_levers,
    drivers_text,
    family_shares,
    is_active,
    segment_summary,
    top_features,
    value_at_risk,
)

__all__ = [
    "BAND_NAMES",
    "CONSTANT_PREDICTORS",
    "CSS",
    "FAMILY_NAMES",
    "HEADLINES",
    "LEVER_ORDER",
    "LEVER_WINDOW_DAYS",
    "MAX_SCATTER_POINTS",
    "PREDICTOR_NAMES",
    "SECTIONS",
    "SEGMENT_ORDER",
    "act_first_section",
    "action_matrix",
    "action_table",
    "build_report",
    "customer_lever",
    "customer_levers",
    "customers_section",
    "drivers_section",
    "drivers_text",
    "empty_band_notes",
    "facts",
    "family_shares",
    "figure_uri",
    "headline_comparison",
    "image",
    "is_active",
    "lever_legend",
    "missing",
    "money",
    "num",
    "page",
    "panel",
    "pct",
    "points",
    "quality_section",
    "section",
    "segment_summary",
    "signed_money",
    "skipped_note",
    "table",
    "top_features",
    "value_at_risk",
    "verdict",
]
