"""The configuration tree of ``predictor``: every setting, validated by pydantic.

All models are frozen and forbid unknown keys, so a typo in a YAML file is an error that names
the key instead of a setting that is silently ignored. Reading YAML and applying ``--set``
overrides lives in ``predictor.io.config_files``; this module has no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zoneinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MODEL_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
"""What ``model_name`` may be: a folder name that cannot point outside ``models/``."""

PROMOTION_TARGETS = ("value_13m", "churn")
"""Targets re-evaluated when promoting a model (Day One is judged by signup cohorts)."""

METRIC_HIGHER_IS_BETTER = {
    "normalized_gini": True,
    "spearman": True,
    "top_decile_capture": True,
    "mae": False,
    "rmse": False,
    "decile_mape": False,
    "roc_auc": True,
    "pr_auc": True,
    "lift_top10": True,
    "brier": False,
    "log_loss": False,
    "calibration_error": False,
}
"""Metrics that can decide a promotion, and whether higher is better."""


def check_metric_names(names: list[str]) -> None:
    """Refuse names that are not ``<target>.<metric>`` with a known target and metric."""
    if not names:
        raise ValueError("tracking.promote_metrics: name at least one metric")
    for name in names:
        target, _, metric = name.partition(".")
        if target not in PROMOTION_TARGETS or metric not in METRIC_HIGHER_IS_BETTER:
            raise ValueError(
                f"tracking.promote_metrics: unknown metric {name!r}; use <target>.<metric> with "
                f"target in {', '.join(PROMOTION_TARGETS)} and metric in "
                f"{', '.join(METRIC_HIGHER_IS_BETTER)}"
            )


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Section):
    """Where the tables are and how the user's column names map onto the contract's."""

    path: str | None = Field(
        None,
        description="Folder holding one file or one folder of part files per table "
        "(customers.csv, orders.parquet, orders/part-0000.parquet, ...).",
    )
    tables: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit file or part-file folder per table, overriding the folder "
        "(table name -> path).",
    )
    columns: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Column mapping per table: {table: {user_column: contract_column}}.",
    )
    end_date: dt.date | None = Field(
        None,
        description="Last day covered by the data. Rows dated after it are set aside as errors. "
        "Default: the day the command runs.",
    )
    timezone: str = Field(
        "UTC",
        description="The business's time zone (IANA name, e.g. America/New_York). Times with a "
        "zone or offset are converted to it before days are cut; times without one are taken "
        "as already in it.",
    )
    date_format: str | None = Field(
        None,
        description="strftime format of the date columns written as text that are not ISO "
        "(e.g. '%d/%m/%Y'). Default: detected per column; a column whose day and month "
        "cannot be told apart is an error asking for this setting.",
    )
    date_formats: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Format per column, overriding date_format: {table: {column: format}} "
        "(contract column names).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Accept only IANA zone names the system knows (``UTC``, ``Europe/Paris``, ...)."""
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "unknown time zone; use an IANA name such as UTC or America/New_York"
            ) from None
        return value

    @field_validator("date_format")
    @classmethod
    def _has_directives(cls, value: str | None) -> str | None:
        """A format must hold strftime directives (``%d/%m/%Y``), not a sample date."""
        if value is not None and "%" not in value:
            raise ValueError("a date format uses strftime directives, e.g. '%d/%m/%Y'")
        return value


class DayOneConfig(_Section):
    """The Day One window (the first ``window_days`` days from signup) and how its model learns."""

    window_days: int = Field(1, ge=1, le=90, description="Length of the Day One window in days.")
    learn_months: int | None = Field(
        None,
        ge=1,
        description=(
            "Months of value the Day One model learns, on every signup cohort whose window of "
            "that length closed before the held-out cohort (many more cohorts than a full "
            "horizon allows), extended to value.horizon_months by the BG/NBD time profile of a "
            "new customer; null learns the full horizon on the cohorts whose whole window "
            "closed (measured better: benchmarks/analysis.md, 'Day One')."
        ),
    )
    max_depth: int | None = Field(
        3,
        ge=1,
        le=16,
        description="Tree depth of the Day One model (it learns from a few thousand customers); "
        "null: model.max_depth.",
    )
    min_child_weight: float | None = Field(
        50.0,
        ge=0,
        description="Smallest leaf (hessian weight) of the Day One model; null: "
        "model.min_child_weight.",
    )


class ChurnConfig(_Section):
    """How churn is defined and over which horizon it is predicted."""

    horizon_days: int = Field(90, ge=7, le=730, description="Churn horizon after the cutoff, days.")
    lookback_days: int = Field(
        365,
        ge=7,
        le=3650,
        description="Non-contractual rule: customers who ordered within this many days before "
        "the cutoff are 'active' and form the churn population.",
    )
    rule: Literal["auto", "subscription", "no_order"] = Field(
        "auto",
        description="'subscription': churn is the end of all subscriptions; 'no_order': no order "
        "within the horizon; 'auto': subscription when a subscriptions table is given.",
    )
    max_depth: int | None = Field(
        None,
        ge=1,
        le=16,
        description="Tree depth of the churn model; null: model.max_depth (3 with "
        "min_child_weight 50 tied it once the rounds are chosen on folds: benchmarks/analysis.md, "
        "'Churn hyperparameters').",
    )
    min_child_weight: float | None = Field(
        None,
        ge=0,
        description="Smallest leaf (hessian weight) of the churn model; null: "
        "model.min_child_weight.",
    )
    round_choice: Literal["folds", "validation"] = Field(
        "folds",
        description="How the churn model's boosting rounds are chosen: 'folds' = lowest log loss "
        "summed over the out-of-fold calibration cutoffs (model.calibration_cutoffs), then the "
        "final model learns from every training cutoff, validation included (each fold's "
        "booster stops 2 x model.early_stopping_rounds past its own best); 'validation' = "
        "early stopping on the single validation cutoff.",
    )


class ValueConfig(_Section):
    """What 'value' means for the 13-month and Day One targets."""

    horizon_months: int = Field(
        13, ge=1, le=60, description="Value horizon after the cutoff, months."
    )
    kind: Literal["revenue", "margin"] = Field(
        "revenue",
        description="'revenue': sum of order amounts; 'margin': gross margin minus cost to serve.",
    )
    margin_rate: float = Field(
        0.3, ge=-1, le=1, description="Margin rate applied to orders whose margin is unknown."
    )
    cost_per_ticket: float = Field(
        0.0, ge=0, description="Cost to serve per support ticket (subtracted when kind=margin)."
    )
    learn_months: int | None = Field(
        3,
        ge=1,
        description=(
            "Months of value the 13-month model learns when the data hold a complete "
            "horizon: a shorter label lets it learn from the latest cutoffs (the business as it "
            "is now, not as it was 13+ months ago), extended to the horizon by the BG/NBD time "
            "profile; null (or >= horizon_months) learns the whole horizon on older cutoffs."
        ),
    )
    level: Literal[
        "blend", "recent", "structural", "validation", "window", "window_blend", "horizon"
    ] = Field(
        "horizon",
        description=(
            "Level (total) of the 13-month value: 'horizon' (the default; with learn_months) "
            "pools actual / predicted value over the whole horizon for the cutoffs of the latest "
            "year whose "
            "horizon has closed, the prediction extended by the BG/NBD profile (with less than "
            "a year of them: 'window_blend'; on a model of the whole horizon: 'blend'); "
            "'recent' carries the actual/predicted "
            "total of the latest complete cutoff forward by the drift seen in the latest 3 "
            "complete months (with learn_months the validation cutoff is recent: no drift); "
            "'structural' takes the total of BG/NBD x Gamma-Gamma refitted at the date; 'blend' the "
            "geometric mean of the two; 'validation' keeps the validation cutoff's ratio; "
            "'window' (with learn_months) pools actual / predicted over the longest window "
            "closed after each training cutoff, the prediction extended by the BG/NBD profile, "
            "and 'window_blend' is its geometric mean with 'structural' (on a model of the "
            "whole horizon they are 'validation' and 'blend')."
        ),
    )
    max_depth: int | None = Field(
        4,
        ge=1,
        le=16,
        description="Tree depth of the 13-month value model; null: model.max_depth.",
    )
    min_child_weight: float | None = Field(
        20.0,
        ge=0,
        description=(
            "Smallest leaf (hessian weight) of the 13-month value model; null: "
            "model.min_child_weight. Depth 4 / 20 against the model's 5 / 5 ranked better on "
            'every held-out set measured (benchmarks/analysis.md, "Value: smaller trees").'
        ),
    )
    short_level: Literal["window", "validation"] = Field(
        "window",
        description=(
            "Level of the value when the data are shorter than the horizon (the short-history "
            "path): 'window' pools actual / predicted spend over the longest window closed "
            "after each training cutoff, the prediction extended to it by the BG/NBD profile; "
            "'validation' keeps the validation cutoff's ratio (one short window)."
        ),
    )
    bin_levels: bool = Field(
        False,
        description=(
            "With learn_months: reshape the value by actual / predicted per bin of the "
            "prediction on the validation cutoff (strictly increasing: the ranking is kept, the "
            "total left to the level rule); not in the short-history case. Off by default: "
            "it cut decile error on three held-out sets and raised it on two "
            '(benchmarks/analysis.md, "Value: short history, window level, bins").'
        ),
    )
    short_refit: bool = Field(
        True,
        description=(
            "Short-history path: refit the saved model on every cutoff whose short label "
            "closed by the data's end (the held-out check keeps the cutoffs before its test "
            "cutoff); false keeps the held-out check's model."
        ),
    )


class OnboardingConfig(_Section):
    """The expected onboarding journey, in order."""

    steps: list[str] = Field(
        default_factory=lambda: [
            "account_created",
            "profile_completed",
            "first_purchase",
            "app_installed",
            "tutorial_completed",
        ],
        description="Ordered list of expected onboarding steps.",
    )
    within_days: int = Field(
        14, ge=1, description="Onboarding counts as 'completed early' when done within these days."
    )


class SupportConfig(_Section):
    """Service-level settings used by the support features."""

    sla_hours: float = Field(48.0, gt=0, description="Resolution time above this breaches the SLA.")


class CutoffConfig(_Section):
    """Training cutoffs. By default they are chosen from the data's span (monthly)."""

    dates: list[dt.date] | None = Field(
        None, description="Explicit training cutoffs; overrides start/end/step."
    )
    start: dt.date | None = Field(None, description="First cutoff of a generated range.")
    end: dt.date | None = Field(None, description="Last cutoff of a generated range.")
    step_days: int = Field(30, ge=1, description="Days between generated cutoffs.")
    max_cutoffs: int = Field(
        12, ge=1, description="Keep at most this many (the latest) automatic cutoffs."
    )
    min_history_days: int = Field(
        90, ge=0, description="Automatic cutoffs start this many days after the first signup."
    )
    valid_cutoffs: int = Field(
        1, ge=1, description="The latest complete cutoffs held out for validation/evaluation."
    )
    max_customers_per_cutoff: int | None = Field(
        None, ge=100, description="Sample at most this many customers per cutoff (seeded)."
    )
    sample_customers: int | None = Field(
        200_000,
        ge=1,
        description="Training learns from a seeded sample of about this many whole customers "
        "when the data hold more (both engines keep the same customers; the pandas engine "
        "reads Parquet chunk by chunk and keeps only them, so memory stays bounded); scoring "
        "still scores everyone. null: every customer.",
    )
    churn_max_cutoffs: int | None = Field(
        24,
        ge=1,
        description="Keep at most this many (the latest) cutoffs for the churn target, whose "
        "label window is short, so more cutoffs fit (24 monthly cutoffs: two years); null: "
        "max_cutoffs, as for the value target.",
    )
    churn_max_rows: int | None = Field(
        200_000,
        ge=1000,
        description="Bound the churn fitting rows: customers are sampled (seeded) per churn "
        "training cutoff to at most churn_max_rows / number of cutoffs; null: no bound.",
    )


class ModelConfig(_Section):
    """XGBoost settings shared by the three models."""

    n_estimators: int = Field(600, ge=1, description="Maximum boosting rounds (early stopping).")
    learning_rate: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Shrinkage of each boosting round (XGBoost's eta): smaller steps learn more "
        "slowly and need more rounds (up to n_estimators).",
    )
    max_depth: int = Field(
        5,
        ge=1,
        le=16,
        description="Tree depth of a model whose own setting (day_one.max_depth, "
        "value.max_depth, churn.max_depth) is null; by default only the churn model's.",
    )
    min_child_weight: float = Field(
        5.0,
        ge=0,
        description="Smallest leaf (hessian weight) of a model whose own setting "
        "(day_one, value or churn .min_child_weight) is null; by default only the churn model's.",
    )
    subsample: float = Field(
        0.8, gt=0, le=1, description="Share of the training rows drawn (seeded) for each tree."
    )
    colsample_bytree: float = Field(
        0.8, gt=0, le=1, description="Share of the features drawn (seeded) for each tree."
    )
    reg_lambda: float = Field(
        1.0,
        ge=0,
        description="L2 penalty on the leaf weights (XGBoost's lambda): larger keeps each "
        "tree's leaf values smaller (a more conservative model).",
    )
    early_stopping_rounds: int = Field(
        40,
        ge=1,
        description="Boosting stops after this many rounds without a lower validation loss and "
        "keeps the best round (churn with churn.round_choice 'folds': each fold booster stops "
        "2 x this past its own best).",
    )
    value_objective: Literal["auto", "tweedie", "two_part"] = Field(
        "auto", description="'auto' compares Tweedie with a two-part model on validation."
    )
    tweedie_variance_power: float = Field(
        1.5,
        gt=1,
        lt=2,
        description="Variance power of the Tweedie objective of the value and Day One models "
        "(near 1: Poisson-like, near 2: gamma-like); used when value_objective is tweedie or auto.",
    )
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = Field(
        "auto",
        description="Churn calibration; 'auto' picks none, sigmoid (Platt) or isotonic by "
        "log loss on out-of-fold scores of the latest training cutoffs.",
    )
    calibration_cutoffs: int = Field(
        3,
        ge=1,
        description="The latest churn training cutoffs scored out of fold (by a model fitted "
        "only on earlier, complete labels) to choose and fit the calibration.",
    )
    calibration_min_positives: int = Field(
        200, ge=1, description="Fewest held-out churners before isotonic calibration is tried."
    )
    probabilistic_features: bool = Field(
        True,
        description="Add BG/NBD features (P(alive), expected purchases), fitted without leakage "
        "at each training cutoff; scoring reuses the parameters stored with the model.",
    )
    device: Literal["cpu", "cuda"] = Field("cpu", description="XGBoost device.")
    n_jobs: int = Field(2, ge=1, description="CPU threads of each XGBoost fit.")
    random_state: int = Field(0, description="Seed for every random choice in training.")


class SegmentConfig(_Section):
    """How scores are turned into segments and bands (learned at training, stored with the model).

    Customers already gone at the cutoff (outside the churn population) are always ``lapsed``
    with risk band ``inactive``; customers with a negative predicted value are ``negative``.
    The rules below split the remaining, active customers.
    """

    value_rule: Literal["relative", "quantile"] = Field(
        "relative",
        description="'relative': value segments cut at multiples of the mean predicted value of "
        "active customers (value_multiples); 'quantile': at quantiles of it (value_quantiles).",
    )
    value_multiples: tuple[float, float] = Field(
        (0.5, 1.5),
        description="Rule 'relative': below average < low x mean <= average < high x mean <= "
        "above average.",
    )
    value_quantiles: tuple[float, float] = Field(
        (0.5, 0.8),
        description="Rule 'quantile': quantiles of active customers' predicted value separating "
        "below average / average / above average.",
    )
    risk_rule: Literal["relative", "absolute"] = Field(
        "relative",
        description="'relative': risk bands at multiples of the active population's churn rate "
        "on the held-out cutoff (risk_multiples); 'absolute': at fixed probabilities "
        "(risk_thresholds).",
    )
    risk_multiples: tuple[float, float] = Field(
        (0.5, 2.0),
        description=(
            "Rule 'relative': low <= low x base rate < medium < high x base rate <= high; a "
            "multiple m above 1 goes at most (m-1)/m of the way from the rate to 100%."
        ),
    )
    risk_thresholds: tuple[float, float] = Field(
        (0.3, 0.6), description="Rule 'absolute': low <= low < medium < high <= high."
    )


class ReportConfig(_Section):
    """The HTML report."""

    currency: str = Field(
        "EUR",
        min_length=1,
        max_length=12,
        description="Currency of the data's money columns (e.g. EUR, USD, GBP), shown in every "
        "money label and table of the report.",
    )


class TrackingConfig(_Section):
    """MLflow tracking."""

    uri: str | None = Field(
        None,
        description="Tracking URI; default $MLFLOW_TRACKING_URI or a SQLite store in the project.",
    )
    experiment: str = Field("predictor", description="MLflow experiment name.")
    register_model: bool = Field(
        True, description="Register the trained model in the model registry."
    )
    registered_name: str = Field("predictor", description="Registered model name.")
    promote_metrics: list[str] = Field(
        default_factory=lambda: ["value_13m.normalized_gini", "churn.log_loss"],
        description="Metrics (target.metric) on which a challenger must beat the champion to be "
        "promoted: at least as good on every one and better on one. Registered versions get "
        "the alias 'challenger'; the first one also becomes 'champion'.",
    )
    system_metrics: bool = Field(
        False, description="Record CPU, memory and disk use of the run (MLflow system metrics)."
    )

    @model_validator(mode="after")
    def _check_metrics(self) -> TrackingConfig:
        check_metric_names(self.promote_metrics)
        return self


Target = Literal["day_one", "value_13m", "churn"]
TARGETS: tuple[Target, ...] = ("day_one", "value_13m", "churn")
"""The targets ``predictor train`` can learn, in training order."""


class Config(_Section):
    """The whole configuration."""

    models: list[Target] | None = Field(
        None,
        description="Targets to train (day_one, value_13m, churn). null: every target the data "
        "supports, skipping the others with a message; a list: exactly these, and a target the "
        "data cannot support is an error.",
    )
    data: DataConfig = DataConfig()
    day_one: DayOneConfig = DayOneConfig()
    churn: ChurnConfig = ChurnConfig()
    value: ValueConfig = ValueConfig()
    onboarding: OnboardingConfig = OnboardingConfig()
    support: SupportConfig = SupportConfig()
    cutoffs: CutoffConfig = CutoffConfig()
    model: ModelConfig = ModelConfig()
    segments: SegmentConfig = SegmentConfig()
    report: ReportConfig = ReportConfig()
    tracking: TrackingConfig = TrackingConfig()
    model_name: str = Field(
        "sample",
        description="Folder name of the trained model under models/: letters, digits, '-', '_' "
        "and '.', not starting with a dot (a simple name, never a path).",
    )

    @field_validator("model_name")
    @classmethod
    def _check_model_name(cls, name: str) -> str:
        """A simple folder name: never a path, ``.``, ``..`` or hidden (installing replaces it)."""
        if not MODEL_NAME.fullmatch(name):
            raise ValueError(
                "must be a simple folder name: letters, digits, '-', '_' and '.', "
                "not starting with a dot (no '/', no '..', not empty)"
            )
        return name

    @model_validator(mode="after")
    def _check_quantiles(self) -> Config:
        lo, hi = self.segments.value_quantiles
        if not 0 < lo < hi < 1:
            raise ValueError("segments.value_quantiles must satisfy 0 < low < high < 1")
        lo, hi = self.segments.risk_thresholds
        if not 0 < lo < hi < 1:
            raise ValueError("segments.risk_thresholds must satisfy 0 < low < high < 1")
        for key in ("value_multiples", "risk_multiples"):
            lo, hi = getattr(self.segments, key)
            if not 0 <= lo < hi:
                raise ValueError(f"segments.{key} must satisfy 0 <= low < high")
        if self.models is not None and not self.models:
            raise ValueError("models must name at least one of day_one, value_13m, churn")
        return self

    @property
    def targets(self) -> list[Target]:
        """The targets to train, in training order (all of them unless ``models`` is set)."""
        wanted = TARGETS if self.models is None else self.models
        return [t for t in TARGETS if t in wanted]

    @property
    def targets_explicit(self) -> bool:
        """True when the user chose the targets (``models`` set), so none may be skipped."""
        return self.models is not None

    def flat(self) -> dict[str, Any]:
        """Flatten to ``{"churn.horizon_days": 90, ...}`` (for MLflow params)."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict) and value:
                for key, sub in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), sub)
            else:
                out[prefix] = value

        walk("", self.model_dump(mode="json"))
        return out

    def digest(self) -> str:
        """A short stable hash of the resolved configuration."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]
