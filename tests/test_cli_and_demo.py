"""The command line and the demo report (quick settings): they must never rot."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from restoolkit.__main__ import main


def test_demo_writes_a_report_with_every_domain(tmp_path):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    for heading in ("## 1.", "## 2. Driving", "## 3. Fraud", "## 4. Medical"):
        assert heading in report
    assert (tmp_path / "medical" / "report" / "reliability.png").stat().st_size > 1000
    assert (tmp_path / "driving" / "report" / "detections.png").stat().st_size > 1000
    # The numbers in the report are the ones the runs wrote.
    fraud = pd.read_csv(tmp_path / "fraud" / "comparison.csv", index_col=0)
    assert f"{fraud.loc['hist gradient boosting', 'auprc']:.4f}".rstrip("0") in report
    medical = json.loads((tmp_path / "medical" / "report" / "metrics.json").read_text())
    assert f"AUROC {medical['auroc']:.3f}" in report


def test_train_then_evaluate_a_users_table_from_a_config(tmp_path, capsys):
    """Any CSV with a 0/1 target: schema inferred, time-ordered split, the report's numbers equal
    scikit-learn's on the scores the saved model gives."""
    from domains.fraud import add_behaviour_features, simulate_transactions

    df = add_behaviour_features(simulate_transactions(120, 240, 50, seed=1)).drop(columns=["tx_time_days"])
    df.to_csv(tmp_path / "table.csv", index=False)
    config = {"run_dir": str(tmp_path / "run"), "table": str(tmp_path / "table.csv"), "target": "tx_fraud",
              "epochs": 1}
    (tmp_path / "fraud.json").write_text(json.dumps(config))
    assert main(["train", "fraud", "--config", str(tmp_path / "fraud.json")]) == 0
    assert (tmp_path / "run" / "scorer" / "scorer.json").exists()
    trained = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    assert main(["evaluate", "fraud", "--config", str(tmp_path / "fraud.json")]) == 0
    metrics = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    assert metrics == trained  # evaluate reloads the saved model and reproduces the numbers
    import keras

    from domains.fraud import infer_schema, split

    task = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert task.backbone_options["members"] == 6  # the default model: the six-member ensemble
    table = pd.read_csv(tmp_path / "table.csv")
    test = split(table, schema=infer_schema(table, "tx_fraud"))[2]
    scores = task.predict(test)
    assert metrics["auprc"] == pytest.approx(average_precision_score(test["tx_fraud"], scores), abs=1e-12)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(test["tx_fraud"], scores), abs=1e-12)


@pytest.mark.parametrize("model", ["resmlp_fraud", "resmlp_single_fraud"])
def test_the_fraud_job_trains_each_model_with_its_own_policy_unless_told(tmp_path, monkeypatch, model):
    """epochs / batch_size / learning_rate left out of the config are not passed to ``train``, which then
    takes the model's own policy (``fit_defaults``); given ones are passed as they are."""
    import domains.fraud
    from domains.fraud import FraudClassifier, add_behaviour_features, simulate_transactions
    from domains.fraud.app import OPTIONS, run
    from domains.fraud.evaluate import PRESET_OF

    assert set(next(o for o in OPTIONS if o.name == "model").choices) <= set(PRESET_OF.values())
    calls = []
    monkeypatch.setattr(domains.fraud, "train", lambda task, *a, **options: calls.append((task, options)))
    df = add_behaviour_features(simulate_transactions(40, 80, 30, seed=2))
    df.to_csv(tmp_path / "t.csv", index=False)
    job = {"table": str(tmp_path / "t.csv"), "target": "tx_fraud", "model": model, "compare": False}
    run({**job, "run_dir": str(tmp_path / "a")})
    run({**job, "run_dir": str(tmp_path / "b"), "epochs": 2, "batch_size": 64, "learning_rate": 1e-3})
    (task, unset), (_, given) = calls
    assert task.backbone_options == FraudClassifier.presets[model]["config"]["backbone_options"]
    assert not {"epochs", "batch_size", "learning_rate"} & set(unset)
    assert (given["epochs"], given["batch_size"], given["learning_rate"]) == (2, 64, 1e-3)


def test_train_a_parquet_table_with_a_given_schema(tmp_path):
    """The public credit-card layout as Parquet, rows out of time order, with the schema given in the
    config (numeric `Time` in seconds, no card column): the split follows `Time`, the run records the
    schema, and the report equals scikit-learn on the last 20% in time order."""
    import numpy as np

    from domains.fraud import CREDITCARD_SCHEMA, Schema, SchemaError
    from domains.fraud.app import run
    from restoolkit.errors import ConfigError

    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame(rng.normal(size=(n, 28)), columns=[f"V{i}" for i in range(1, 29)])
    df.insert(0, "Time", rng.uniform(0, 172_800, n))
    df["Amount"] = rng.gamma(2, 40, n)
    df["Class"] = ((df["V1"] + df["V2"] > 2.4) | (rng.random(n) < 0.003)).astype(int)
    df.to_parquet(tmp_path / "cards.parquet")
    config = {"run_dir": str(tmp_path / "run"), "table": str(tmp_path / "cards.parquet"),
              "schema": CREDITCARD_SCHEMA.to_dict(), "epochs": 1, "model": "resmlp_single_fraud"}
    (tmp_path / "job.json").write_text(json.dumps(config))
    assert main(["train", "fraud", "--config", str(tmp_path / "job.json")]) == 0
    assert Schema.from_dict(json.loads((tmp_path / "run" / "schema.json").read_text())) == CREDITCARD_SCHEMA
    metrics = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    import keras

    task = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert task.backbone_options == {"width": 32, "depth": 2, "hidden_factor": 2.0, "members": 1}  # the preset
    test = df.sort_values("Time").iloc[round(0.8 * n):]
    assert metrics["prevalence"] == pytest.approx(test["Class"].mean())
    assert metrics["auprc"] == pytest.approx(average_precision_score(test["Class"], task.predict(test)), abs=1e-12)
    with pytest.raises(ConfigError, match="give the label column as 'target'"):
        run({"run_dir": str(tmp_path / "r2"), "table": str(tmp_path / "cards.parquet")})
    with pytest.raises(SchemaError, match=r"unknown key\(s\) \['label'\]"):
        run({"run_dir": str(tmp_path / "r3"), "table": str(tmp_path / "cards.parquet"),
             "schema": {**CREDITCARD_SCHEMA.to_dict(), "label": "Class"}})


@pytest.mark.parametrize("config, message", [
    ({"run_dir": "x", "epochs": "abc"}, "key 'epochs' must be a whole number, got 'abc'"),
    ({"run_dir": "x", "epoch": 3}, "unknown key 'epoch'; did you mean 'epochs'"),
    ({"run_dir": "x", "epochs": 0}, "key 'epochs' must be at least 1"),
    ({"run_dir": "x", "epochs": True}, "key 'epochs' must be a whole number"),
    ({"run_dir": "x", "folder": "/no/such/folder"}, "key 'folder': /no/such/folder does not exist"),
    ({"epochs": 2}, "key 'run_dir' is required"),
    ({"run_dir": "x", "level": "study"}, "key 'level' must be one of"),
])
def test_bad_configs_are_refused_before_any_work(tmp_path, capsys, config, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit) as exit_:
        main(["train", "medical", "--config", str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_bad_config_files(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    for args, message in ((["--config", str(tmp_path / "bad.json")], "not valid JSON (line 1, column 2"),
                          (["--config", str(tmp_path / "missing.json")], "config file not found")):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "fraud", *args])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_help_lists_every_key_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "medical", "--help"])
    out = capsys.readouterr().out
    from domains.medical.app import OPTIONS

    for option in OPTIONS:
        assert option.name in out
    assert "epochs             int    training epochs (default 8" in out


def test_info_models_and_benchmarks(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "strategy 'auto' would pick: default" in out and "tensorflow 2.21" in out
    assert "domains: driving, fraud, medical" in out
    assert main(["models", "resmlp*"]) == 0
    assert capsys.readouterr().out.split() == ["resmlp"]
    assert main(["benchmark", "list"]) == 0
    assert "fraud_latency" in capsys.readouterr().out.split()
    with pytest.raises(SystemExit):
        main(["benchmark", "nope"])
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_fraud_benchmarks_run(capsys):
    """The fraud benchmark scripts end to end at toy sizes (one of them was once broken unnoticed)."""
    from benchmarks import fraud_compare, fraud_latency

    table = fraud_compare.main(["--seeds", "1", "--customers", "60", "--models", "resmlp,logistic_regression"])
    assert list(table.index) == ["resmlp (ours)", "logistic regression"]
    table = fraud_compare.main(["--creditcard-layout", "20000", "--models", "logistic_regression"])
    assert table.loc["logistic regression", "prevalence"] == pytest.approx(0.003, rel=0.3)
    with_time = fraud_compare.main(["--creditcard-layout", "20000", "--models", "logistic_regression",
                                    "--time-as-feature"])
    assert "'Time' also a feature" in capsys.readouterr().out
    assert with_time.loc["logistic regression", "auprc"] != table.loc["logistic regression", "auprc"]
    fraud_latency.main(["--columns", "30", "--repeats", "20", "--seconds", "0.05"])
    out = capsys.readouterr().out
    assert "| Scorer, NumPy engine |" in out and "# fraud scoring, 30 columns" in out
    from benchmarks import fraud_scale

    result = fraud_scale.main(["--customers", "40", "--copies", "2", "--buckets", "3", "--batch-size", "256"])
    assert result["rows"] > 1000 and result["peak_rss_gb"] > 0


def test_benchmark_command_works_from_an_installed_wheel(tmp_path):
    """``restoolkit benchmark`` finds the scripts in an installed package, outside any checkout."""
    from tests.conftest import REPO

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(target), str(REPO)], check=True, capture_output=True, timeout=300)
    code = ("import restoolkit, sys; from restoolkit.__main__ import benchmark_scripts; "
            "print(restoolkit.__file__); print(sorted(benchmark_scripts()))")
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    first, second = run.stdout.splitlines()[:2]
    assert first.startswith(str(target)) and "fraud_latency" in second


@pytest.mark.parametrize("domain, config", [
    ("medical", {"n_patients": 20, "size": 32, "epochs": 1, "batch_size": 8}),
    ("driving", {"n_scenes": 4, "input_size": [64, 192], "epochs": 1, "batch_size": 4,
                 "detector": {"fpn_width": 16, "head_width": 16, "head_depth": 1}}),
])
def test_evaluate_command_reproduces_the_trained_runs_report(tmp_path, domain, config):
    """`evaluate` reloads the model that `train` saved and recomputes the same report."""
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"run_dir": str(tmp_path / "run"), **config}))
    assert main(["train", domain, "--config", str(path)]) == 0
    trained = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    (tmp_path / "run" / "report" / "metrics.json").unlink()
    assert main(["evaluate", domain, "--config", str(path)]) == 0
    assert json.loads((tmp_path / "run" / "report" / "metrics.json").read_text()) == trained
    # Training again into the same run directory with the same config returns the finished run.
    assert main(["train", domain, "--config", str(path)]) == 0
    assert json.loads((tmp_path / "run" / "report" / "metrics.json").read_text()) == trained
