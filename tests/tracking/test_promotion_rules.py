"""Champion/challenger decisions (pure) and the registry aliases and tags they move."""

import math

import mlflow
import pytest

from predictor.config import Config
from predictor.promotion import compare
from predictor.tracking import (
    champion_and_challenger,
    mark_new_version,
    promote,
    use_store,
)

METRICS = ["value_13m.normalized_gini", "churn.log_loss"]


def test_better_on_one_and_tied_on_the_other_promotes():
    decision = compare(
        {"value_13m.normalized_gini": 0.60, "churn.log_loss": 0.40},
        {"value_13m.normalized_gini": 0.65, "churn.log_loss": 0.40},
        METRICS,
    )
    assert decision.promote
    assert decision.comparison.loc["value_13m.normalized_gini", "better"] == "challenger"
    assert decision.comparison.loc["churn.log_loss", "better"] == "tie"


def test_lower_log_loss_is_better():
    decision = compare(
        {"value_13m.normalized_gini": 0.6, "churn.log_loss": 0.40},
        {"value_13m.normalized_gini": 0.6, "churn.log_loss": 0.35},
        METRICS,
    )
    assert decision.promote and "churn.log_loss" in decision.reason


def test_worse_on_any_metric_keeps_the_champion():
    decision = compare(
        {"value_13m.normalized_gini": 0.60, "churn.log_loss": 0.40},
        {"value_13m.normalized_gini": 0.90, "churn.log_loss": 0.41},
        METRICS,
    )
    assert not decision.promote
    assert decision.reason == "challenger is worse on churn.log_loss"
    assert "kept champion" in decision.summary() and "0.4000 vs 0.4100" in decision.summary()


def test_identical_models_are_not_promoted():
    same = {"value_13m.normalized_gini": 0.6, "churn.log_loss": 0.4}
    assert not compare(same, dict(same), METRICS).promote


def test_a_metric_that_cannot_be_computed_keeps_the_champion():
    decision = compare(
        {"value_13m.normalized_gini": 0.6, "churn.log_loss": 0.4},
        {"value_13m.normalized_gini": math.nan, "churn.log_loss": 0.1},
        METRICS,
    )
    assert not decision.promote and "cannot compare value_13m.normalized_gini" in decision.reason


def test_unknown_promote_metric_is_a_config_error():
    with pytest.raises(ValueError, match="unknown metric 'churn.accuracy'"):
        Config.model_validate({"tracking": {"promote_metrics": ["churn.accuracy"]}})
    with pytest.raises(ValueError, match="unknown metric"):
        compare({}, {}, ["value_13m"])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('registry')}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture
def registry(store, request):
    """A registered model named after the test, with two versions."""
    mlflow.set_tracking_uri(store)
    client = mlflow.MlflowClient()
    name = request.node.name
    client.create_registered_model(name)
    versions = [client.create_model_version(name, source=f"/nowhere/v{i}") for i in (1, 2)]
    return client, name, [str(v.version) for v in versions]


def test_first_version_is_champion_later_ones_only_challenger(registry):
    client, m, (v1, v2) = registry
    assert mark_new_version(m, v1) is True
    assert champion_and_challenger(m) == {"champion": v1, "challenger": v1}
    assert "first registered" in client.get_model_version(m, v1).tags["promotion.v1"]
    assert mark_new_version(m, v2) is False
    assert champion_and_challenger(m) == {"champion": v1, "challenger": v2}


def test_every_decision_is_tagged_on_both_versions(registry):
    client, m, (v1, v2) = registry
    mark_new_version(m, v1)
    mark_new_version(m, v2)
    promote(m, v1, v2, "kept champion: challenger is worse on churn.log_loss", False)
    assert champion_and_challenger(m)["champion"] == v1
    key = f"promotion.v{v2}_vs_v{v1}"
    for version in (v1, v2):
        assert "kept champion" in client.get_model_version(m, version).tags[key]
    promote(m, v1, v2, "promoted: challenger is better on churn.log_loss", True)
    assert champion_and_challenger(m)["champion"] == v2
    assert "promoted" in client.get_model_version(m, v1).tags[key]


def test_a_missing_store_is_an_error_and_is_not_created(tmp_path, monkeypatch):
    from predictor.bundle import ModelLoadError

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="no MLflow tracking store"):
        use_store(None)
    with pytest.raises(ModelLoadError, match="does not exist"):
        use_store(f"sqlite:///{tmp_path}/elsewhere.db")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_model_in_an_existing_store_is_a_clear_error(store):
    from predictor.bundle import ModelLoadError
    from predictor.tracking import load_from_uri

    with pytest.raises(ModelLoadError, match="cannot load models:/nothing@champion"):
        load_from_uri("models:/nothing@champion", store)


def test_system_metrics_are_recorded_on_request(store):
    import time

    pytest.importorskip("psutil", reason="the system-metrics extra (psutil) is absent")
    from predictor.tracking import MlflowTracker

    mlflow.set_system_metrics_sampling_interval(0.2)
    mlflow.set_system_metrics_samples_before_logging(1)
    try:
        with MlflowTracker(store, "system", system_metrics=True) as tracker:
            time.sleep(1.0)
    finally:
        mlflow.set_system_metrics_sampling_interval(None)
        mlflow.set_system_metrics_samples_before_logging(None)
    metrics = mlflow.get_run(tracker.run_id).data.metrics
    assert any(name.startswith("system/cpu") for name in metrics)


def test_system_metrics_without_psutil_is_a_clear_error(monkeypatch):
    import sys

    from predictor.tracking import check_system_metrics

    monkeypatch.setitem(sys.modules, "psutil", None)
    with pytest.raises(RuntimeError, match="psutil is not installed"):
        check_system_metrics()
