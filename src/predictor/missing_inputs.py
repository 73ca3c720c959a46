"""Tables a model was trained with but that are absent at scoring: which scores they change.

A feature family whose table is absent yields no columns, so its features are missing for
every customer and the scores move without any error (scoring without ``support_tickets``
changes every ``value_13m``). ``check_inputs`` makes that visible: a warning naming the
table and the scores it feeds, an error when the table drives a rule of the model (the
``subscriptions`` table under the subscription churn rule decides who is at risk at all),
and nothing for the tables the user accepts as missing (``--allow-missing``). A table that
drives a rule and has rows, none of which passed the checks (every subscription's id in
another form), is as good as absent: ``check_rule_rows`` stops the run for it too. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from predictor.contract.errors import ContractError, ContractIssue
from predictor.contract.validate import no_valid_rows_issue
from predictor.model_types import TrainedModel
from predictor.scoring import DAY_ONE_PREFIX, FAMILY_TABLES

CHECK = "missing_table"


def affected_scores(model: TrainedModel, table: str) -> list[str]:
    """The scores whose model uses features of ``table`` (empty: the model never saw it)."""
    prefixes = tuple(f"{family}__" for family, source in FAMILY_TABLES.items() if source == table)
    estimators = {
        "day_one_value": model.day_one,
        "value_13m": model.value,
        "churn_risk": model.churn,
    }
    uses = {s: est.schema_.features_ for s, est in estimators.items() if est is not None}
    return [
        score
        for score, features in uses.items()
        if any(f.removeprefix(DAY_ONE_PREFIX).startswith(prefixes) for f in features)
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
            message = (
                f"{table}: the model was trained with this table and it drives {rules[table]}, "
                f"but it is absent from the scoring data; churn_risk, risk_band and {listed} "
                f"would be wrong for everyone. Provide it, or pass --allow-missing {table} to "
                "score anyway"
            )
            errors.append(ContractIssue(CHECK, table, None, "error", 0, [], message))
            continue
        message = (
            f"{table}: the model was trained with this table but it is absent from the scoring "
            f"data; {listed} are computed as if no customer had any {table} rows "
            f"(pass --allow-missing {table} to accept this knowingly)"
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
