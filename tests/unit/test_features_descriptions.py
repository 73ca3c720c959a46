"""Every feature has a plain-language description."""

from predictor.features import build_day_one_features, build_features
from predictor.features.descriptions import DESCRIPTIONS, describe, describe_all, is_described


def test_every_produced_column_is_described(rich_tables, feature_config):
    columns = list(build_features(rich_tables, "2024-03-31", feature_config).columns)
    columns += list(build_day_one_features(rich_tables, feature_config).columns)
    missing = [c for c in columns if not is_described(c)]
    assert not missing
    for text in describe_all(columns).values():
        assert text and text.endswith(".") and "\n" not in text


def test_pattern_rules_name_the_value():
    assert "live chat" in describe("orders__channel_share__live_chat")
    assert "first purchase" in describe("onboarding__hours_to__first_purchase")
    assert "billing" in describe("support__tickets__billing")
    assert "email" in describe("channels__channel_90d__email")
    assert "click" in describe("channels__kind_90d__click")
    assert "country" in describe("customer__country")
    assert describe("customer__tenure_days") == DESCRIPTIONS["customer__tenure_days"]


def test_unknown_names_get_a_generic_sentence():
    assert not is_described("orders__mystery_metric")
    assert describe("orders__mystery_metric") == "Mystery metric (orders signal)."
