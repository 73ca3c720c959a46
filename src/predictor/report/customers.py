"""The "Your customer base" section: segments, the action matrix and its levers."""

from __future__ import annotations

from html import escape

import pandas as pd

from predictor.model_types import TrainedModel
from predictor.plots import (
    distribution_figure,
    segment_levers_figure,
)
from predictor.report import markup
from predictor.report.summaries import (
    action_table,
    customer_lever,
    is_active,
    segment_summary,
)
from predictor.segments import (
    INACTIVE_BAND,
    LAPSED_SEGMENT,
    LEVER_RULES,
    LEVERS,
    NEGATIVE_SEGMENT,
    RISK_BANDS,
    Segmenter,
)

BAND_NAMES = {"low": "low risk", "medium": "medium risk", "high": "high risk", "inactive": "gone"}


def empty_band_notes(scores: pd.DataFrame, segmenter: Segmenter) -> list[str]:
    """Why a risk band holds no active customer, one sentence per empty band (none when full)."""
    risk = scores.loc[is_active(scores), "churn_risk"]
    if risk.empty:
        return [
            "No customer is active: everyone scored has already left, so every risk band is empty."
        ]
    lo, hi = segmenter.risk_cuts
    present = set(scores.loc[is_active(scores), "risk_band"])
    rule = ""
    if segmenter.risk_rule == "relative" and segmenter.risk_params and segmenter.base_rate:
        a, b = segmenter.risk_params
        base = f"the churn rate of active customers, {markup.pct(segmenter.base_rate, 1)}"
        rule = {"low": f" ({a:g}x {base})", "high": f" ({b:g}x {base})"}
    notes = []
    if "high" not in present:
        why = (
            "a limit above 100% that no probability can reach; lower segments.risk_multiples "
            "or set segments.risk_rule: absolute"
            if hi > 1
            else f"the high-risk limit of {markup.pct(hi, 1)}{rule and rule['high']}"
        )
        notes.append(
            f"No active customer is in the high-risk band: the highest risk is "
            f"{markup.pct(risk.max(), 1)}, below {why}."
        )
    if "low" not in present:
        notes.append(
            f"No active customer is in the low-risk band: the lowest risk is "
            f"{markup.pct(risk.min(), 1)}, above the low-risk limit of {markup.pct(lo, 1)}"
            f"{rule and rule['low']}."
        )
    if "medium" not in present:
        notes.append(
            f"No active customer is in the medium-risk band: every risk is at most "
            f"{markup.pct(lo, 1)} or at least {markup.pct(hi, 1)}."
        )
    return notes


def _cell(row: pd.Series, currency: str, months: int) -> str:
    """One cell of the action matrix: customers, value at risk (or last 13 months), levers."""
    lines = [f"<b>{int(row['customers']):,}</b> customers"]
    if row.name[1] == INACTIVE_BAND:
        lines.append(
            f"{markup.money(row['value_last_13m'])} {escape(currency)} "
            f"in their last {months} months"
        )
    elif row.name[0] == NEGATIVE_SEGMENT:
        lines.append(f"{markup.money(row['predicted_value'])} {escape(currency)} predicted")
    else:
        lines.append(f"{markup.money(row['value_at_risk'])} {escape(currency)} at risk")
    lines.append(f'<span class="lever">{escape(LEVERS[row["lever"]].name)}</span>')
    others = [(k, n) for k, n in row["lever_counts"].items() if k and k != row["lever"]]
    if others:
        lines.append(
            "<small>of which "
            + ", ".join(f"{n:,} {escape(LEVERS[k].name)}" for k, n in others)
            + "</small>"
        )
    return "<br>".join(lines)


def action_matrix(actions: pd.DataFrame, currency: str, months: int) -> str:
    """The action table as HTML: one row per segment, one column per risk band."""
    bands = [*RISK_BANDS, INACTIVE_BAND]
    head = '<th class="text">value segment</th>' + "".join(
        f'<th class="text">{escape(BAND_NAMES[b])}</th>' for b in bands
    )
    body = []
    for segment in dict.fromkeys(actions.index.get_level_values("segment")):
        cells = [f'<td class="text">{escape(segment.replace("_", " "))}</td>']
        for band in bands:
            key = (segment, band)
            cells.append(
                f'<td class="text cell">{_cell(actions.loc[key], currency, months)}</td>'
                if key in actions.index
                else '<td class="text na">n/a</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="wide"><table class="actions"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def lever_legend(actions: pd.DataFrame) -> str:
    """The levers named in the action table, with what each stands for (fixed texts)."""
    used = dict.fromkeys([*actions["lever"], *(k for c in actions["lever_counts"] for k in c if k)])
    frame = pd.DataFrame(
        {"what to do": [LEVERS[k].action for k in LEVER_ORDER if k in used]},
        index=pd.Index([LEVERS[k].name for k in LEVER_ORDER if k in used], name="lever"),
    )
    return markup.table(frame, {})


LEVER_ORDER = tuple(dict.fromkeys(rule.lever for rule in LEVER_RULES))


def _skipped_rules_note(facts_: pd.DataFrame | None) -> str:
    """A note naming the lever rules the report could not apply for lack of data (or '')."""
    lacking = []
    if facts_ is None:
        lacking.append("the 'new customer' rule (onboarding) needs the customers table")
    if facts_ is None or facts_["poor_support"].isna().all():
        lacking.append("the 'poor support' rule (service recovery) needs the support table")
    if not lacking:
        return ""
    text = markup._and(lacking) + "; without them those customers get their cell's lever."
    return f'<p class="note">{escape(text[0].upper() + text[1:])}</p>'


def customers_section(
    model: TrainedModel,
    scores: pd.DataFrame | None,
    levers: pd.DataFrame | None,
    hint: str,
    facts_: pd.DataFrame | None = None,
) -> str:
    """Value and risk of the customer base: segments, bands, their levers and what to do."""
    if scores is None or scores.empty:
        return markup.section("customers", markup.missing(hint))
    currency = model.config.report.currency
    active = is_active(scores)
    cuts = model.segmenter
    months = model.config.value.horizon_months
    value_label = f"Predicted {months}-month value ({currency})"
    as_of = pd.Timestamp(scores["as_of"].iloc[0])
    lever = customer_lever(scores, facts_)
    actions = action_table(scores, lever, facts_)
    lapsed = actions.xs(INACTIVE_BAND, level="band")
    past = lapsed["value_last_13m"].sum()
    base_facts = markup.facts(
        [
            ("Customers scored", f"{len(scores):,}", f"as of {as_of.date()}"),
            ("Active customers", f"{int(active.sum()):,}", "segments and risk bands below"),
            (
                "Lapsed (already gone)",
                f"{int((~active).sum()):,}",
                f"{markup.money(past)} {currency} in their last {months} months"
                if pd.notna(past) and facts_ is not None
                else "their past value needs the order data (--data)",
            ),
            (
                f"Predicted value of active customers, next {months} months",
                f"{markup.money(scores.loc[active, 'value_13m'].sum())} {currency}",
                "",
            ),
            (
                "Mean churn risk of active customers",
                markup.pct(scores.loc[active, "churn_risk"].mean()),
                f"within {model.config.churn.horizon_days} days",
            ),
            (
                "High-risk active customers",
                f"{int((scores.loc[active, 'risk_band'] == 'high').sum()):,}",
                f"risk {markup.pct(cuts.risk_cuts[1], 1)} or more",
            ),
        ]
    )
    dist = distribution_figure(
        scores["value_13m"].to_numpy(),
        scores.loc[active, "churn_risk"].to_numpy(),
        cuts.value_cuts,
        cuts.risk_cuts,
        value_label,
        gone=~active.to_numpy(),
    )
    summary = segment_summary(scores, levers)
    shown = summary.rename(
        index=lambda s: s.replace("_", " "),
        columns={
            "customers": "customers",
            "share": "share",
            "total_value": f"total predicted value ({currency})",
            "mean_value": f"mean predicted value ({currency})",
            "aov": f"average order value ({currency})",
            "orders_per_customer": "purchases per customer",
            "margin_rate": "margin",
            "mean_churn_risk": "mean churn risk",
            "high_risk_share": "high-risk share",
        },
    )
    shown.index.name = "value segment"
    formats = {
        "customers": lambda x: f"{int(x):,}",
        "share": markup.pct,
        f"total predicted value ({currency})": markup.money,
        f"mean predicted value ({currency})": markup.money,
        f"average order value ({currency})": markup.money,
        "purchases per customer": lambda x: markup.num(x, 1),
        "margin": markup.pct,
        "mean churn risk": lambda x: markup.pct(x, 1),
        "high-risk share": markup.pct,
    }
    lever_note = (
        "Average order value, purchases per customer and margin are over the 12 months up to "
        "the as-of date."
        if levers is not None
        else "Average order value, purchase frequency and margin need the order data: run "
        "`predictor report` with --data."
    )
    rules = "".join(
        f'<p class="rule">{escape(t)}</p>'
        for t in (cuts.value_rule_text(currency), cuts.risk_rule_text())
    )
    empty = "".join(f'<p class="warn">{escape(n)}</p>' for n in empty_band_notes(scores, cuts))
    skipped = _skipped_rules_note(facts_)
    active_summary = summary.loc[[s for s in summary.index if s != LAPSED_SEGMENT]]
    return markup.section(
        "customers",
        rules
        + empty
        + markup.panel(
            markup.image(dist, "distribution of predicted value and churn risk"),
            base_facts,
            "Dashed lines: where the value segments and risk bands start.",
        )
        + "<h3>What to do, per value segment and risk band</h3>"
        + '<p class="note">Each cell: customers, their value at risk (predicted value x churn '
        "risk; for the lapsed, what they spent in the last "
        f"{months} months) and the lever for the cell. 'Of which' counts customers a more "
        "specific rule sends elsewhere: new customers to onboarding, customers after poor "
        "support to service recovery.</p>"
        + action_matrix(actions, currency, months)
        + lever_legend(actions)
        + skipped
        + "<h3>Value segments and their CLV levers</h3>"
        + '<p class="note">Customer value grows with order value, purchase frequency, margin '
        "and retention: the four levers below.</p>"
        + markup.table(shown, formats)
        + markup.panel(
            markup.image(
                segment_levers_figure(active_summary, currency),
                "CLV levers by value segment",
            )
        )
        + f'<p class="note">{escape(lever_note)}</p>',
    )
