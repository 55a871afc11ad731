"""The command line and the demo report (quick settings): they must never rot."""

import json

import pytest

from restoolkit.__main__ import main


def test_demo_writes_a_report_with_every_domain(tmp_path):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    for heading in ("## 1.", "## 2. Medical", "## 3. Driving", "## 4. Fraud"):
        assert heading in report
    assert (tmp_path / "medical" / "report" / "reliability.png").stat().st_size > 1000
    assert (tmp_path / "driving" / "detections.png").stat().st_size > 1000
    assert "hist gradient boosting" in report and "AUROC" in report


def test_train_then_evaluate_from_a_config(tmp_path, capsys):
    config = {"run_dir": str(tmp_path / "run"), "customers": 120, "terminals": 240, "days": 50, "train_days": 28,
              "test_days": 14, "epochs": 1}
    (tmp_path / "fraud.json").write_text(json.dumps(config))
    assert main(["train", "fraud", "--config", str(tmp_path / "fraud.json")]) == 0
    assert (tmp_path / "run" / "scorer" / "scorer.json").exists() and (tmp_path / "run" / "comparison.csv").exists()
    assert main(["evaluate", "fraud", "--config", str(tmp_path / "fraud.json")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0 <= metrics["auprc"] <= 1
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SystemExit, match="not valid JSON"):
        main(["train", "fraud", "--config", str(tmp_path / "bad.json")])
    (tmp_path / "norun.json").write_text("{}")
    with pytest.raises(SystemExit, match="needs a 'run_dir'"):
        main(["train", "medical", "--config", str(tmp_path / "norun.json")])


def test_info_and_models(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "strategy 'auto' would pick: default" in out and "tensorflow 2.21" in out
    assert main(["models", "resmlp*"]) == 0
    assert capsys.readouterr().out.split() == ["resmlp"]
    with pytest.raises(SystemExit, match="unknown benchmark 'nope'"):
        main(["benchmark", "nope"])
