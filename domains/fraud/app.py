"""The fraud application: the job behind ``restoolkit train fraud`` and its demo section. It uses only
the public four steps: data → task → train → evaluate."""

from __future__ import annotations

import json
from pathlib import Path

from domains.fraud.data import TIME_UNITS
from restoolkit.tasks import DomainApp, Option

OPTIONS = [
    Option("run_dir", "path", required=True, must_exist=False, help="where the run, scorer and report go"),
    Option("table", "path", help="a CSV or Parquet transactions table (default: simulated transactions)"),
    Option("target", "str", None, "the 0/1 label column of `table` (the schema is then inferred from the table)"),
    Option("schema", "dict", None, "the schema of `table` (Schema.to_dict(), e.g. an edited run_dir/schema.json); "
           "instead of `target`"),
    Option("time", "str", None, "`table`'s time column when inferring (default: its first datetime column)"),
    Option("time_unit", "str", "s", "what one unit of a numeric time column is", choices=TIME_UNITS),
    Option("card", "str", None, "`table`'s card column when inferring (known-compromised filtering)"),
    Option("ids", "list", [], "`table`'s identifier columns when inferring (kept out of the features)"),
    Option("customers", "int", 500, "simulated customers", minimum=10),
    Option("terminals", "int", 1000, "simulated terminals", minimum=10),
    Option("days", "int", 90, "simulated days", minimum=14),
    Option("train_days", "int", 49, "simulated data: training days", minimum=1),
    Option("delay_days", "int", 7, "simulated data: days between training and test (label delay)", minimum=0),
    Option("test_days", "int", 28, "simulated data: test days", minimum=1),
    Option("fractions", "list", [0.6, 0.2, 0.2], "a given table: time-ordered train / validation / test shares"),
    # The residual MLP presets: the job exports the NumPy scorer, which has no FT-Transformer path (that
    # model is a row of compare() and a preset of the Python API).
    Option("model", "str", "resmlp_fraud", "the FraudClassifier preset: resmlp_fraud (6 residual MLPs, seed-stable) "
           "or resmlp_single_fraud (one, about 2.5× faster to score)", choices=("resmlp_fraud", "resmlp_single_fraud")),
    Option("epochs", "int", None, "training epochs (default: the model's policy, FraudClassifier.fit_defaults)",
           minimum=1),
    Option("batch_size", "int", None, "global batch size (default: the model's policy)", minimum=1),
    Option("learning_rate", "float", None, "peak learning rate, cosine decay (default: the model's policy)",
           minimum=0.0),
    Option("seed", "int", 0, "simulation and training seed", minimum=0),
    Option("compare", "bool", None, "also fit the baselines on the same split (comparison.csv); default: for "
           "simulated data only"),
    Option("overwrite", "bool", False, "replace a different run found in run_dir"),
]


def _tables(config):
    from domains.fraud import (
        SIMULATED_SCHEMA,
        Schema,
        add_behaviour_features,
        infer_schema,
        read_table,
        simulate_transactions,
        split,
        time_split,
    )
    from restoolkit.errors import ConfigError

    if config["table"]:
        df = read_table(config["table"])
        if config["schema"] is not None:
            schema = Schema.from_dict(config["schema"])
        elif config["target"] is not None:
            schema = infer_schema(df, config["target"], time=config["time"], time_unit=config["time_unit"],
                                  card=config["card"], ids=config["ids"])
        else:
            raise ConfigError(f"{config['table']}: give the label column as 'target' (the schema is inferred), or "
                              "a 'schema'")
        train, validation, test = split(df, schema=schema, fractions=tuple(config["fractions"]))
        return df, schema, train, validation, test
    df = add_behaviour_features(simulate_transactions(config["customers"], config["terminals"], config["days"],
                                                      seed=config["seed"]))
    train, test = time_split(df, SIMULATED_SCHEMA, train_days=config["train_days"],
                             delay_days=config["delay_days"], test_days=config["test_days"])
    return df, SIMULATED_SCHEMA, train, None, test


def run(config: dict, *, evaluate_only: bool = False) -> dict:
    """A transactions table (any CSV / Parquet with a 0/1 target, or simulated) → time split →
    :class:`FraudClassifier` → report, ours-vs-baselines table (simulated data) and the real-time scorer."""
    import keras

    from domains.fraud import FraudClassifier, compare, evaluate, export_scorer, train
    from domains.fraud.baselines import available_baselines
    from domains.fraud.evaluate import PRESET_OF

    config = APP.validate(config)
    run_dir = Path(config["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    df, schema, train_df, val_df, test_df = _tables(config)
    # Options left unset take the model's own training policy (FraudClassifier.fit_defaults).
    policy = {k: config[k] for k in ("epochs", "batch_size", "learning_rate") if config[k] is not None}
    # The schema used, printable and editable: pass it back as the `schema` option.
    (run_dir / "schema.json").write_text(json.dumps(schema.to_dict(), indent=2) + "\n")
    model_file = run_dir / "model.keras"
    if evaluate_only:
        task = keras.saving.load_model(model_file, safe_mode=True)
    else:
        task = FraudClassifier.from_preset(config["model"], load_weights=False, data=train_df, schema=schema)
        train(task, train_df, val_df, run_dir=run_dir / "train", **policy, seed=config["seed"],
              overwrite=config["overwrite"], verbose=0)
        task.save(model_file)
        export_scorer(task, run_dir / "scorer", schema)
    report = evaluate(task, test_df)
    path = report.save(run_dir / "report")
    out = {"metrics": report.metrics, "report": report, "report_path": path, "task": task, "rows": len(df),
           "fraud_rate": float(df[schema.target].mean()), "scorer": run_dir / "scorer"}
    wants_table = config["compare"] if config["compare"] is not None else not config["table"]
    if not evaluate_only and wants_table:
        split_by = {"fractions": config["fractions"]} if config["table"] else {
            "train_days": config["train_days"], "delay_days": config["delay_days"], "test_days": config["test_days"]}
        ours = {preset: name for name, preset in PRESET_OF.items()}[config["model"]]  # its row in compare
        table = compare(df, schema, **split_by, **policy, seeds=(config["seed"],),
                        models=(ours, *available_baselines()))
        table.to_csv(run_dir / "comparison.csv")
        out["comparison"] = table
    return out


def demo(out: Path, quick: bool) -> str:
    result = run({"run_dir": str(out / "fraud"), "customers": 150 if quick else 500,
                  "terminals": 300 if quick else 1000, "days": 60 if quick else 90, "train_days": 35 if quick else 49,
                  "test_days": 14 if quick else 28, **({"epochs": 1} if quick else {})})
    return "\n".join([
        "## Fraud: simulated transactions → time split → FraudClassifier (6 residual MLPs) vs baselines", "",
        f"{result['rows']:,} transactions, fraud rate {result['fraud_rate']:.2%}.", "",
        result["comparison"].round(4).to_markdown(), "",
        f"Real-time scorer exported to `{result['scorer']}`."])


APP = DomainApp(name="fraud", description="transaction tables → residual MLPs → fraud metrics and a fast scorer",
                options=OPTIONS, run=run, demo=demo)
