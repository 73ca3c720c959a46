"""Plain-language descriptions of every feature, for marketers reading score drivers.

``describe(name)`` returns one sentence. Fixed columns are looked up in ``DESCRIPTIONS``;
columns named after values in the data (a channel, a ticket category, an onboarding step, a
customer attribute) are matched by the patterns in ``PATTERNS``. Unknown names get a generic
sentence; ``is_described`` tells the two apart.

"Reference date" is the cutoff the scores are computed for (or, in the Day One view, the end of
the customer's Day One window). Windows such as "last 30 days" include the reference date.
"""

from __future__ import annotations

import re

DESCRIPTIONS: dict[str, str] = {
    # customer
    "customer__tenure_days": "Days since the customer signed up.",
    "customer__signup_month": "Month of the year the customer signed up (1 = January).",
    "customer__signup_weekday": "Day of the week the customer signed up (0 = Monday).",
    "customer__acquisition_channel": "Marketing channel that brought the customer in.",
    # orders
    "orders__count": "Number of purchases so far (frequency).",
    "orders__count_30d": "Number of purchases in the last 30 days.",
    "orders__count_90d": "Number of purchases in the last 90 days.",
    "orders__count_365d": "Number of purchases in the last 365 days.",
    "orders__recency_days": "Days since the last purchase (recency).",
    "orders__days_since_first": "Days since the first purchase.",
    "orders__first_order_delay_days": "Days between signing up and the first purchase.",
    "orders__count_first_30d": "Purchases made in the first 30 days after signing up.",
    "orders__spend_total": "Total net spend so far, refunds deducted (monetary value).",
    "orders__spend_30d": "Net spend in the last 30 days.",
    "orders__spend_90d": "Net spend in the last 90 days.",
    "orders__spend_365d": "Net spend in the last 365 days.",
    "orders__spend_prev_90d": "Net spend in the 90 days before the last 90 days.",
    "orders__spend_trend_90d": "Spend trend: +1 all spend in the last 90 days, -1 all in the "
    "90 days before, 0 steady.",
    "orders__aov": "Average order value of purchases.",
    "orders__first_order_amount": "Value of the first purchase.",
    "orders__first_order_items": "Number of items in the first purchase.",
    "orders__items_per_order": "Average number of items per purchase.",
    "orders__margin_total": "Total gross margin earned so far.",
    "orders__margin_rate": "Gross margin as a share of net spend.",
    "orders__ipt_mean_days": "Average number of days between two purchases.",
    "orders__ipt_std_days": "How irregular the gaps between purchases are (standard deviation, "
    "days).",
    "orders__recency_vs_ipt": "Days since the last purchase divided by the usual gap between "
    "purchases (above 1 = overdue).",
    "orders__refund_count": "Number of refunds so far.",
    "orders__refund_amount": "Total amount refunded so far.",
    "orders__n_product_lines": "Number of different product lines bought.",
    "orders__n_channels": "Number of different channels the customer has ordered through.",
    # activity (derived across families)
    "activity__days_since_any": "Days since the customer last bought or engaged on any channel, "
    "whichever came later.",
    # probabilistic (BG/NBD)
    "bgnbd__frequency": "Number of repeat purchase days (purchase days after the first one).",
    "bgnbd__recency_weeks": "Weeks between the first and the last purchase day.",
    "bgnbd__age_weeks": "Weeks since the first purchase day.",
    "bgnbd__p_alive": "Probability the customer is still buying, by the BG/NBD model.",
    "bgnbd__expected_purchases_churn_horizon": "Purchase days the BG/NBD model expects over the "
    "churn horizon.",
    "bgnbd__expected_purchases_value_horizon": "Purchase days the BG/NBD model expects over the "
    "value horizon.",
    # subscriptions
    "subscriptions__count": "Number of subscriptions the customer has started.",
    "subscriptions__active": "Whether the customer has a running subscription (1 = yes).",
    "subscriptions__current_plan": "Plan of the customer's current subscription ('none' if not "
    "subscribed).",
    "subscriptions__current_mrr": "Monthly recurring revenue of the current subscription(s).",
    "subscriptions__current_tenure_days": "Days since the current subscription started.",
    "subscriptions__first_start_days": "Days since the customer's first subscription started.",
    "subscriptions__total_days": "Total days the customer has been subscribed.",
    "subscriptions__plan_changes": "Number of times the customer switched plan.",
    "subscriptions__upgrades": "Number of moves to a more expensive subscription.",
    "subscriptions__downgrades": "Number of moves to a cheaper subscription.",
    "subscriptions__cancellations": "Number of subscriptions the customer cancelled (ended "
    "without a renewal).",
    "subscriptions__days_since_last_cancellation": "Days since the customer last cancelled a "
    "subscription.",
    "subscriptions__days_to_renewal": "Days until the current subscription's next monthly "
    "renewal date.",
    "subscriptions__days_since_plan_change": "Days since the customer last switched plan.",
    "subscriptions__downgrades_90d": "Moves to a cheaper subscription in the last 90 days.",
    "subscriptions__mrr_change_90d": "Change of monthly recurring revenue against 90 days ago "
    "(+1 all new, -1 all lost, 0 unchanged).",
    "subscriptions__current_seats": "Seats (licensed users) of the current subscription(s).",
    "subscriptions__seat_change_90d": "Change of seats against 90 days ago (+1 all new, -1 all "
    "gone, 0 unchanged).",
    "subscriptions__seat_decreases_90d": "Times the seat count went down in the last 90 days.",
    # onboarding
    "onboarding__steps_completed": "Number of onboarding steps completed.",
    "onboarding__completion_ratio": "Share of the onboarding steps completed.",
    "onboarding__completed_all": "Whether every onboarding step is done (1 = yes).",
    "onboarding__stalled_at": "First onboarding step not done yet, where the customer stalled "
    "('none' = all done).",
    "onboarding__completed_within_days": "Whether onboarding was finished within the target "
    "number of days after signup (1 = yes).",
    # support
    "support__tickets": "Number of support tickets opened so far.",
    "support__tickets_30d": "Support tickets opened in the last 30 days.",
    "support__tickets_90d": "Support tickets opened in the last 90 days.",
    "support__tickets_365d": "Support tickets opened in the last 365 days.",
    "support__days_since_last_ticket": "Days since the customer last opened a support ticket.",
    "support__repeat_tickets": "Tickets opened within 30 days of the previous ticket (repeat "
    "contacts).",
    "support__open_tickets": "Support tickets still unresolved.",
    "support__resolution_hours_mean": "Average hours taken to resolve the customer's tickets.",
    "support__resolution_hours_max": "Longest time taken to resolve one of the customer's "
    "tickets, in hours.",
    "support__sla_breach_share": "Share of tickets not resolved within the service-level target.",
    "support__csat_mean": "Average satisfaction rating given to support (1-5).",
    "support__csat_min": "Lowest satisfaction rating given to support (1-5).",
    "support__csat_last": "Most recent satisfaction rating given to support (1-5).",
    "support__escalations": "Number of support tickets that were escalated.",
    "support__live_chat_share": "Share of tickets raised through live chat.",
    # channels
    "channels__interactions_30d": "Marketing touches and engagements in the last 30 days.",
    "channels__interactions_90d": "Marketing touches and engagements in the last 90 days.",
    "channels__interactions_365d": "Marketing touches and engagements in the last 365 days.",
    "channels__engagements_90d": "Times the customer engaged (opened, clicked, visited, ...) in "
    "the last 90 days.",
    "channels__open_rate_90d": "Messages opened per message sent, last 90 days.",
    "channels__click_rate_90d": "Clicks per message sent, last 90 days.",
    "channels__active_channels_90d": "Number of channels the customer engaged through in the "
    "last 90 days.",
    "channels__active_channels_ever": "Number of channels the customer has ever engaged through "
    "(omnichannel breadth).",
    "channels__days_since_engagement": "Days since the customer last engaged with any channel.",
    "channels__engagement_trend": "Engagement trend: last 30 days against the 60 days before "
    "(+1 rising, -1 fading).",
    "channels__engagement_vs_baseline_7d": "Engagement in the last 7 days against the "
    "customer's usual level (28 to 363 days back): +1 all recent, -1 none recently, 0 as usual.",
    "channels__engagements_per_seat_7d": "Engagements per seat of the current subscription, "
    "last 7 days.",
    "channels__engagements_per_seat_30d": "Engagements per seat of the current subscription, "
    "last 30 days.",
    "channels__engagements_per_seat_90d": "Engagements per seat of the current subscription, "
    "last 90 days.",
    "channels__payment_failures_30d": "Failed payments in the last 30 days.",
    "channels__payment_failures_90d": "Failed payments in the last 90 days.",
    "channels__days_since_payment_failure": "Days since the last failed payment.",
    "channels__payment_failure_unpaid": "Whether the last failed payment is still unpaid (no "
    "payment after it; 1 = yes).",
    "channels__engagements_7d": "Times the customer engaged in the last 7 days.",
    "channels__engagements_30d": "Times the customer engaged in the last 30 days.",
    "channels__engagement_trend_7d_60d": "Engagement in the last 7 days against the 60 days "
    "before, per day (+1 rising, -1 fading).",
    "channels__engagement_trend_30d_90d": "Engagement in the last 30 days against the 90 days "
    "before, per day (+1 rising, -1 fading).",
    "channels__engagement_slope_12w": "Slope of weekly engagement over the last 12 weeks, as a "
    "share of the weekly average (negative = declining).",
    "channels__engagement_vs_peak": "Engagement in the last 28 days as a share of the "
    "customer's busiest 28 days in the past year (1 = at peak).",
    "channels__active_days_share_90d": "Share of the last 90 days (since signup) on which the "
    "customer engaged.",
    # nps
    "nps__responses": "Number of NPS survey answers.",
    "nps__last_score": "Most recent NPS score (0-10).",
    "nps__mean_score": "Average NPS score (0-10).",
    "nps__change": "Change between the last two NPS scores.",
    "nps__days_since_last": "Days since the last NPS answer.",
    "nps__category": "Promoter, passive or detractor according to the last NPS answer.",
}
"""Fixed feature names and their one-line descriptions."""


def _words(value: str) -> str:
    return value.replace("_", " ")


PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^orders__channel_share__(?P<v>.+)$"),
        "Share of purchases placed through the {v} channel.",
    ),
    (
        re.compile(r"^onboarding__hours_to__(?P<v>.+)$"),
        "Hours from signup until the '{v}' onboarding step was done (empty if not yet).",
    ),
    (
        re.compile(r"^support__tickets__(?P<v>.+)$"),
        "Support tickets about '{v}' opened so far.",
    ),
    (
        re.compile(r"^channels__channel_90d__(?P<v>.+)$"),
        "Marketing touches and engagements via {v} in the last 90 days.",
    ),
    (
        re.compile(r"^channels__days_since__(?P<v>.+)$"),
        "Days since the customer last engaged via {v}.",
    ),
    (
        re.compile(r"^channels__kind_90d__(?P<v>.+)$"),
        "Number of '{v}' interactions in the last 90 days.",
    ),
    (
        re.compile(r"^customer__(?P<v>.+)__days_ago$"),
        "Days between the customer's '{v}' date and the reference date.",
    ),
    (
        re.compile(r"^customer__(?P<v>.+)$"),
        "Customer attribute '{v}' as recorded at signup.",
    ),
]
"""Rules for columns named after values in the data; the first match wins."""


def is_described(name: str) -> bool:
    """Whether ``name`` has a real description (fixed or by pattern), not the generic one."""
    return name in DESCRIPTIONS or any(p.match(name) for p, _ in PATTERNS)


def describe(name: str) -> str:
    """One plain-language sentence saying what the feature ``name`` measures."""
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    for pattern, template in PATTERNS:
        found = pattern.match(name)
        if found:
            return template.format(v=_words(found.group("v")))
    family, _, rest = name.partition("__")
    return f"{_words(rest or family).capitalize()} ({family} signal)."


def describe_all(names: list[str]) -> dict[str, str]:
    """Descriptions for several features, keyed by name."""
    return {name: describe(name) for name in names}
