"""Tables a model was trained with but that are absent at scoring: which scores they change.

A feature family whose table is absent yields no columns, so its features are missing for
every customer and the scores move without any error (scoring without ``support_tickets``
changes every ``value_13m``). ``check_inputs`` makes that visible: a warning naming the
table and the scores it feeds, an error when the table drives a rule of the model (the
``subscriptions`` table under the subscription churn rule decides who is at risk at all),
and nothing for the tables the user accepts as missing (``--allow-missing``). A table that
drives a rule and has rows, none of which passed the checks (every subscription's id in
another form), is as good as absent: ``check_rule_rows`` stops the run for it too. A table
given without a column the model learned from (an attribute renamed or left out of the
export, ``orders`` without ``channel``) leaves those features missing for everyone in the same
silence: ``check_columns`` names the columns and the scores they change, and
``check_categories`` the attributes whose values the model never saw (``Yes``/``No`` where
it learned ``True``/``False``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

import pandas as pd

from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.schema import SPECS, TableSpec
from predictor.contract.tables import Tables
from predictor.contract.validate import no_valid_rows_issue
from predictor.features.customer import PREFIX as CUSTOMER_PREFIX
from predictor.features.customer import attribute_name, to_category
from predictor.model_types import TrainedModel
from predictor.scoring import DAY_ONE_PREFIX, FAMILY_TABLES, built_frame, scoring_columns

CHECK = "missing_table"


def affected_scores(model: TrainedModel, table: str) -> list[str]:
    """The scores whose model uses features of ``table`` (empty: the model never saw it)."""
    prefixes = tuple(f"{family}__" for family, source in FAMILY_TABLES.items() if source == table)
    return _scores_using(model, lambda f: f.startswith(prefixes))


def _scores_using(model: TrainedModel, uses_feature: Callable[[str], bool]) -> list[str]:
    """The scores whose model has a feature for which ``uses_feature`` (no prefix) is true."""
    estimators = {
        "day_one_value": model.day_one,
        "value_13m": model.value,
        "churn_risk": model.churn,
    }
    uses = {s: est.schema_.features_ for s, est in estimators.items() if est is not None}
    return [
        score
        for score, features in uses.items()
        if any(uses_feature(f.removeprefix(DAY_ONE_PREFIX)) for f in features)
    ]


def rule_tables(model: TrainedModel) -> dict[str, str]:
    """Tables that drive a rule of the model, with what they decide."""
    if model.churn is not None and model.info.get("churn_rule") == "subscription":
        return {
            "subscriptions": "the churn population (who is at risk) under the subscription rule"
        }
    return {}


def check_inputs(
    model: TrainedModel, present: Iterable[str], allow_missing: Iterable[str] = ()
) -> list[ContractIssue]:
    """Warnings for tables the model uses that are absent; raise for those driving a rule.

    Raises:
        ContractError: a table that drives a rule is absent and not in ``allow_missing``
            (check ``missing_table``).

    """
    present, allowed = set(present), set(allow_missing)
    rules = rule_tables(model)
    warnings, errors = [], []
    for table in dict.fromkeys(FAMILY_TABLES.values()):
        scores = affected_scores(model, table)
        if table in present or table in allowed or not (scores or table in rules):
            continue
        listed = ", ".join(scores) or "no score"
        if table in rules:
            wrong = ", ".join(dict.fromkeys(["churn_risk", "risk_band", *scores]))
            message = (
                f"{table}: the model was trained with this table and it drives {rules[table]}, "
                "but it is absent from the scoring data (no file, or a file without rows); "
                f"{wrong} would be wrong for everyone. Provide it, "
                f"or pass --allow-missing {table} to score anyway"
            )
            errors.append(ContractIssue(CHECK, table, None, "error", 0, [], message))
            continue
        message = (
            f"{table}: the model was trained with this table but it is absent from the scoring "
            f"data (no file, or a file without rows); {listed} are computed as if no customer "
            f"had any {table} rows (pass --allow-missing {table} to accept this knowingly)"
        )
        warnings.append(ContractIssue(CHECK, table, None, "warning", 0, [], message))
    if errors:
        raise ContractError.from_issues(errors)
    return warnings


def check_rule_rows(
    model: TrainedModel,
    rows: Mapping[str, int],
    kept: Mapping[str, int],
    warnings: list[ContractIssue],
    allow_missing: Iterable[str] = (),
) -> list[ContractIssue]:
    """Errors for tables driving a rule of the model that have rows but kept none.

    With every ``subscriptions`` row set aside (ids in another form, unreadable dates) no
    customer has a subscription running, so everyone would be scored ``lapsed``: the same
    wrong result as an absent table, so the same stop. The error quotes why the rows were
    set aside (``warnings``); ``allow_missing`` accepts it, as for an absent table.
    ``rows`` and ``kept`` count each table's rows over the whole input (``RowCounts``).
    """
    allowed = set(allow_missing)
    errors = []
    for table, decides in rule_tables(model).items():
        if table in allowed or not rows.get(table) or kept.get(table):
            continue
        issue = no_valid_rows_issue(table, rows[table], warnings)
        message = (
            f"{issue.message}. The model was trained with this table and it drives {decides}: "
            f"without a single {table} row every customer would be scored as lapsed. Fix the "
            f"rows, or pass --allow-missing {table} to score anyway"
        )
        errors.append(replace(issue, message=message))
    return errors


def check_columns(
    model: TrainedModel, tables: Tables, as_of: pd.Timestamp, allow_missing: Iterable[str] = ()
) -> list[ContractIssue]:
    """Warnings for features the model learned that the given tables lack a column for.

    A family builds a feature from a column only when the table carries it, so an attribute
    missing from ``customers`` (renamed in the export: ``AgeBand`` for ``age_band``) or an
    ``orders`` file without ``channel`` leaves those features missing for every customer and
    moves the scores without a word. One customer's features are built twice, from the
    tables as given and with every absent column added empty (the contract's optional
    columns, the model's attributes): the model features only the second builds are the
    ones a column is missing for (per-value features such as a channel's share come and go
    with the rows, the same in both). Per table, an attribute is named as the column; for
    the other tables the features are named with the optional columns the table lacks.
    Tables absent as a whole are ``check_inputs``'s; ``allow_missing`` ones are skipped.
    """
    allow_missing = tuple(allow_missing)
    customers = tables.customers
    if customers is None or not len(customers) or customers["signup_date"].isna().all():
        return []
    first = customers.loc[customers["signup_date"].idxmin()]
    one = tables.subset([first["customer_id"]])
    day = max(pd.Timestamp(as_of), first["signup_date"])
    given = set(built_frame(one, day, model, allow_missing).columns)
    complete = built_frame(_with_every_column(one, model), day, model, allow_missing).columns
    wanted = set(scoring_columns(model))
    unbuilt: dict[str, list[str]] = {}
    for column in complete:
        if column in given or column not in wanted:
            continue
        feature = column.removeprefix(DAY_ONE_PREFIX)
        table = FAMILY_TABLES.get(feature.split("__", 1)[0])
        if table is not None and table not in allow_missing:
            unbuilt.setdefault(table, [])
            if feature not in unbuilt[table]:
                unbuilt[table].append(feature)
    return [_unbuilt_issue(model, table, features, tables) for table, features in unbuilt.items()]


def _with_every_column(tables: Tables, model: TrainedModel) -> Tables:
    """``tables`` with each absent optional column, and each model attribute, added empty."""
    features = [f.removeprefix(DAY_ONE_PREFIX) for f in scoring_columns(model)]
    named = {attribute_name(c) for c in tables.customers.columns}
    attributes = [
        f.removeprefix(CUSTOMER_PREFIX)
        for f in dict.fromkeys(features)
        if f.startswith(CUSTOMER_PREFIX) and f.removeprefix(CUSTOMER_PREFIX) not in named
    ]  # the family's own features (tenure_days) are built anyway: adding them changes nothing
    frames = {}
    for name, frame in tables.items():
        spec = SPECS[name]
        wanted = [*spec.optional_columns, *(attributes if name == "customers" else [])]
        added = {c: _empty(spec, c, len(frame)) for c in wanted if c not in frame.columns}
        frames[name] = frame.assign(**added) if added else frame
    return tables.replace(**frames)


def _empty(spec: TableSpec, column: str, rows: int) -> pd.Series:
    """An empty column of the contract's type (text for an attribute)."""
    if column in spec.date_columns:
        return pd.Series(pd.NaT, index=range(rows), dtype="datetime64[ns]")
    if column in spec.numeric_columns:
        return pd.Series(float("nan"), index=range(rows), dtype="float64")
    if column in spec.bool_columns:
        return pd.Series(False, index=range(rows), dtype=bool)
    return pd.Series(None, index=range(rows), dtype=object)


def _unbuilt_issue(
    model: TrainedModel, table: str, features: list[str], tables: Tables
) -> ContractIssue:
    """The warning for ``features`` of ``table`` that the given columns cannot build."""
    names = set(features)
    scores = ", ".join(_scores_using(model, names.__contains__)) or "no score"
    frame = tables.get(table)
    if table == "customers":
        columns = [f.removeprefix(CUSTOMER_PREFIX) for f in features]
        what = f"lacks the column(s) {', '.join(columns)} the model was trained with"
    else:
        absent = [c for c in SPECS[table].optional_columns if c not in frame.columns]
        shown = ", ".join(features[:5]) + (", ..." if len(features) > 5 else "")
        what = f"cannot build {len(features)} model feature(s) ({shown})"
        if absent:
            what += f"; it lacks the optional column(s) {', '.join(absent)}"
    message = (
        f"{table}: {what}; {scores} are computed with them missing for every customer. "
        f"Export them under these names (or map them in data.columns.{table})"
    )
    return ContractIssue("missing_column", table, None, "warning", 0, [], message)


OTHER = "other"
"""The category the rarer values of an attribute with many of them are learned as."""


def check_categories(model: TrainedModel, tables: Tables) -> list[ContractIssue]:
    """Warnings for customer attributes whose values are mostly unknown to the model.

    A category the model did not learn is scored as missing, so an export that spells an
    attribute otherwise than the training data (``Yes``/``No`` for ``True``/``False``,
    ``United States`` for ``US``) moves every customer's scores in silence. An attribute is
    named when more than half of its values (as the features read them) are unknown.
    """
    known: dict[str, set[str]] = {}
    for estimator in (model.day_one, model.value, model.churn):
        if estimator is None:
            continue
        for feature, categories in estimator.schema_.categories_.items():
            known.setdefault(feature.removeprefix(DAY_ONE_PREFIX), set()).update(categories)
    customers = tables.customers
    issues = []
    for column in [] if customers is None else customers.columns:
        feature = CUSTOMER_PREFIX + attribute_name(str(column))
        if feature not in known or OTHER in known[feature]:
            continue  # many categories, the rare ones learned as ``other``: no spelling to check
        values = pd.Series(to_category(customers[column]), index=customers.index)
        present = values.notna()
        unseen = present & ~values.isin(known[feature])
        if not present.any() or unseen.sum() * 2 <= present.sum():
            continue
        theirs = ", ".join(repr(v) for v in sorted(values[unseen].unique())[:5])
        ours = ", ".join(repr(v) for v in sorted(known[feature])[:5])
        scores = ", ".join(_scores_using(model, {feature}.__contains__))
        message = (
            f"customers.{column}: {int(unseen.sum())} of {int(present.sum())} values were not "
            f"seen in training ({theirs}; the model knows {ours}); {scores} treat them as "
            "missing. Export the attribute as in the training data"
        )
        issues.append(
            ContractIssue("unknown_category", "customers", str(column), "warning", 0, [], message)
        )
    return issues
