"""Writes the five notebooks from the cells below (``python notebooks/build_notebooks.py``).

The notebooks are thin: every cell calls library functions. ``SMALL`` (set by the test suite through
``RESTOOLKIT_NOTEBOOK_SMALL=1``) shrinks data and training so each runs in well under three minutes.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SETUP = """import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SMALL = os.environ.get("RESTOOLKIT_NOTEBOOK_SMALL") == "1"   # the test suite runs the notebooks small
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd"""

NOTEBOOKS = {
    "01_residual_connections.ipynb": [
        ("md", "# Residual connections: what the shortcut changes\n\nShortcut kinds, plain vs residual twins, "
               "gradient flow with and without batch norm, branch ratios, a lesion study and the degradation "
               "experiment — every number from `restoolkit.diagnostics`."),
        ("code", SETUP),
        ("code", """from restoolkit import create, count_params
from restoolkit.datasets import oriented_gratings
from restoolkit import diagnostics as D

# Identity vs projection shortcuts where the shape changes (option A zero-pad vs option B 1x1 conv)
table = pd.DataFrame([{"model": n, "shortcut": s, "params": count_params(create(n, shortcut=s, num_classes=4))["total"]}
                      for n in ("cifar_resnet20",) for s in ("zero_pad", "projection", "avg_down")])
table"""),
        ("code", """x, y = oriented_gratings(64, seed=0)
depth = 20 if SMALL else 56
grads = {}
for kind in ("resnet", "plain"):
    for norm in ("batch_norm", "none"):
        model = create(f"cifar_{kind}{depth}", num_classes=4, norm_layer=norm)
        grads[(kind, norm)] = D.gradient_norms(model, (x, y))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, norm in zip(axes, ("batch_norm", "none")):
    for kind in ("resnet", "plain"):
        df = grads[(kind, norm)]
        ax.semilogy(df.depth, df.grad_norm, label=kind)
    ax.set(title=f"gradient norm per block at init ({norm})", xlabel="block (1 = input side)")
    ax.legend()
plt.show()"""),
        ("md", "With batch norm the plain net's gradients **explode** towards the input; without normalisation "
               "they **vanish**. The residual twin keeps them within a small band either way."),
        ("code", """model = create(f"cifar_resnet{depth}", num_classes=4)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
xt, yt = oriented_gratings(256 if SMALL else 1024, seed=1)
model.fit(xt, yt, epochs=1 if SMALL else 3, batch_size=64, verbose=0)
ratios = D.branch_ratios(model, xt[:64])
ax = ratios.plot(x="depth", y="ratio", marker="o", title="‖F(x)‖ / ‖x‖ per block (trained)", legend=False)
plt.show()"""),
        ("code", """lesions = D.lesion(model, (xt[:256], yt[:256]))
lesions.head(12)"""),
        ("code", """table = D.degradation_experiment(depths=(8, 20) if SMALL else (8, 20, 56), epochs=1 if SMALL else 10,
                                  n_train=256 if SMALL else 2048, n_val=128 if SMALL else 512)
D.plot_degradation(table)
plt.show()
table"""),
    ],
    "02_medical_dicom.ipynb": [
        ("md", "# Medical imaging: DICOM → patient split → ResNet → clinical report\n\nA synthetic study folder "
               "(and pydicom's real test images) through `domains.medical`."),
        ("code", SETUP),
        ("code", """import tempfile
from pathlib import Path
from pydicom.data import get_testdata_file
from domains.medical import (make_study_folder, load_study, split, leakage_report, ImageClassifier, train, evaluate,
                             grad_cam, overlay, read_image)

work = Path(tempfile.mkdtemp())
make_study_folder(work / "study", 30 if SMALL else 80, size=64)
index = load_study(work / "study", work / "study" / "labels.csv", on="patient")
index[["patient", "modality", "photometric", "manufacturer", "sex", "age_years", "label"]].head()"""),
        ("code", """# Windowing: one CT slice under three presets; a real MONOCHROME1 radiograph read the right way round
ct = get_testdata_file("CT_small.dcm", download=False)
image, meta = read_image(ct, window=["lung", "mediastinum", "bone"])
fig, axes = plt.subplots(1, 4, figsize=(13, 3.5))
for i, name in enumerate(["lung", "mediastinum", "bone"]):
    axes[i].imshow(image[..., i], cmap="gray"); axes[i].set_title(f"CT_small, {name} window"); axes[i].axis("off")
cr = get_testdata_file("dicomdirtests/77654033/CR1/6154", download=False)
axes[3].imshow(read_image(cr)[0][..., 0], cmap="gray"); axes[3].set_title("CR, MONOCHROME1 inverted"); axes[3].axis("off")
plt.show()"""),
        ("code", """index = split(index, by="patient", stratify="label", fractions=(0.6, 0.2, 0.2))
leakage_report(index)"""),
        ("code", """train_rows, val, test = (index[index.split == s] for s in ("train", "validation", "test"))
task = ImageClassifier("resnet18", preprocessor={"image_size": (64, 64)})
result = train(task, train_rows, val, run_dir=work / "run", epochs=2 if SMALL else 8, verbose=0)
report = evaluate(task, test, validation=val, temperature_scaling=True, n_bootstrap=200 if SMALL else 1000)
print(report.to_markdown())"""),
        ("code", """report.plot_reliability(); plt.show()"""),
        ("code", """# Fine-tuning from the radiograph preset (built by `make pretrain`) against training from scratch
from restoolkit import list_presets
built = {p["name"]: p for p in list_presets()}["resnet18_synthetic_radiographs"]["built"]
tuned = ImageClassifier.from_preset("resnet18_synthetic_radiographs", load_weights=built,
                                    preprocessor={"image_size": (64, 64)})
train(tuned, train_rows, val, run_dir=work / "run_preset", epochs=2 if SMALL else 8, verbose=0)
again = evaluate(tuned, test, validation=val, n_bootstrap=200)
print(f"AUROC from scratch {report.metrics['auroc']:.3f}, from the preset "
      f"{'(weights built)' if built else '(not built: `make pretrain`; fresh weights)'} {again.metrics['auroc']:.3f}")"""),
        ("code", """positive = test[test.label == 1].path.iloc[0]
image = task.preprocessor.load([positive])[0]
overlay(image, grad_cam(task, image), title="Grad-CAM on a positive image"); plt.show()"""),
        ("md", "## A study that tells methods apart\n\nThe study above is easy: every method finds its finding "
               "(AUROC 1.0). `make_study_folder(difficulty=\"hard\")` makes findings of varying conspicuity, "
               "noise, bias fields, vendors with their own detector response and window, MONOCHROME1 and 20% "
               "positives, in radiographs and in CT volumes (a sphere that crosses only some slices)."),
        ("code", """hard = make_study_folder(work / "hard", 40, size=64, difficulty="hard", seed=1)
hard_index = load_study(work / "hard", work / "hard" / "labels.csv", on="patient")
radiographs = hard_index[hard_index.modality != "CT"]
shown = [*radiographs[radiographs.label == 1].head(4).itertuples(), *radiographs[radiographs.label == 0].head(4).itertuples()]
fig, axes = plt.subplots(1, 8, figsize=(16, 2.6))
for ax, row in zip(axes, shown):
    ax.imshow(read_image(row.path)[0][..., 0], cmap="gray"); ax.axis("off")
    ax.set_title(f"{'positive' if row.label else 'negative'}, {row.manufacturer.split()[0]}", fontsize=8)
plt.show()"""),
        ("code", """# The benchmark on it (same split and budget for every method): `python benchmarks/medical.py`;
# its table, as recorded in benchmarks/RESULTS.md with the command and the machine
from IPython.display import Markdown
results = next(p for p in (Path("../benchmarks/RESULTS.md"), Path("benchmarks/RESULTS.md")) if p.exists()).read_text()
section = results.split("## Medical benchmark")[1].split("\\n## ")[0]
Markdown("## Medical benchmark" + section)"""),
    ],
    "03_driving_detection.ipynb": [
        ("md", "# Driving scenes: detection with a residual backbone\n\nSynthetic scenes and the real KITTI "
               "frames, a backbone from a preset, training, COCO and KITTI metrics, latency."),
        ("code", SETUP),
        ("code", """import tempfile, time
from pathlib import Path
from domains.driving import (make_scenes, load_kitti, draw_detections, ObjectDetector, train, evaluate, make_dataset,
                             anchor_recall)
from restoolkit import list_presets

work = Path(tempfile.mkdtemp())
size = (128, 384)
# The CLI's recipe: 4800 fresh scenes seen once (about a second per 500 to make) beat few scenes seen often
make_scenes(work / "train", 16 if SMALL else 4800, image_size=size, seed=1, depth_range=(5, 18))
make_scenes(work / "val", 8 if SMALL else 96, image_size=size, seed=2, depth_range=(5, 18))
frames, val = load_kitti(work / "train"), load_kitti(work / "val")
draw_detections(frames[0].image_path, frames[0], title="synthetic scene, KITTI labels"); plt.show()"""),
        ("code", """kitti = Path("../../shared/data/kitti") if Path("../../shared/data/kitti").exists() else Path("../shared/data/kitti")
if kitti.exists():
    for frame in load_kitti(kitti):
        draw_detections(frame.image_path, frame, title=Path(frame.image_path).name); plt.show()
else:
    print("the real KITTI frames (../shared/data/kitti) are not here")"""),
        ("code", """# The preset's architecture (small FPN and heads, anchors for small objects) with fresh weights
detector = ObjectDetector.from_preset("retinanet_resnet10_050_synthetic_scenes", load_weights=False)
probe = make_dataset(frames, detector.class_names, input_size=size, targets=False)
print(f"anchor recall at IoU 0.5: {anchor_recall(probe, detector.anchors):.3f}")
built = {p["name"]: p for p in list_presets()}["retinanet_resnet10_050_synthetic_scenes"]["built"]
print("preset:", "built" if built else "not built (run `make pretrain`); only training from scratch below")"""),
        ("code", """results, reports = {}, {}
# From scratch (1200 steps of 4, bfloat16 where the CPU has it: about three minutes on 2 cores), and
# from the preset's trained weights when `make pretrain` built them
tasks = {"scratch": detector}
if built:
    tasks["preset"] = ObjectDetector.from_preset("retinanet_resnet10_050_synthetic_scenes")
for name, task in tasks.items():
    start = time.perf_counter()
    train(task, frames, None, run_dir=work / f"run_{name}", epochs=1, batch_size=4, mixed_precision="auto", verbose=0)
    print(f"{name}: {len(frames) // 4} steps in {time.perf_counter() - start:.0f} s")
    reports[name] = report = evaluate(task, val)
    results[name] = {"AP": report.metrics["AP"], "AP50": report.metrics["AP50"],
                     "KITTI Car moderate R40": report.metrics["kitti"].get("Car", {}).get("moderate", {}).get("R40")}
pd.DataFrame(results).T"""),
        ("code", """# Four held-out scenes: detections (score ≥ 0.3) over the ground truth (dashed)
saved = report.save(work / "report")
plt.figure(figsize=(14, 5)); plt.imshow(plt.imread(saved.parent / "detections.png")); plt.axis("off"); plt.show()"""),
        ("code", """# The three real KITTI frames: a small detector memorises them (a detector that cannot has a bug)
if kitti.exists():
    real = load_kitti(kitti)
    small = ObjectDetector("resnet18", preprocessor={"input_size": (160, 512)}, fpn_width=32, head_width=32,
                           head_depth=1, anchor_config={"size_multiplier": 2.0})
    train(small, real * 10, None, run_dir=work / "run_kitti", epochs=2 if SMALL else 10, batch_size=3,
          learning_rate=2e-3, augment=False, verbose=0)
    memorised = evaluate(small, real)
    print(f"Car AP50 on the frames it trained on: {memorised.metrics['AP50']:.3f}")
    fig, axes = plt.subplots(len(real), 1, figsize=(12, 3.6 * len(real)))
    for ax, frame, found in zip(axes, real, memorised.detections):
        draw_detections(frame.image_path, found, min_score=0.3, ax=ax, ground_truth=frame,
                        title=f"{Path(frame.image_path).name}: detections ≥ 0.3, ground truth dashed")
    plt.show()"""),
        ("code", """from restoolkit import count_macs
rows = []
for backbone in (("resnet10_050",) if SMALL else ("resnet10_050", "resnet18", "resnet34")):
    d = ObjectDetector(backbone, preprocessor={"input_size": size})
    x = np.zeros((1, *size, 3), "float32"); d(x)
    start = time.perf_counter(); [d(x) for _ in range(3)]
    rows.append({"backbone": backbone, "GMACs": count_macs(d) / 1e9,
                 "ms per image": 1000 * (time.perf_counter() - start) / 3})
pd.DataFrame(rows)"""),
    ],
    "04_fraud_detection.ipynb": [
        ("md", "# Fraud: residual MLPs vs gradient boosting, honestly evaluated, served in microseconds\n\n"
               "The default `FraudClassifier` is an ensemble of six residual MLPs trained in one model (five-seed "
               "AUPRC spread 0.004 on the simulated bank, 0.010 on a credit-card-layout table, see "
               "`benchmarks/RESULTS.md`); `resmlp_single_fraud` is one network, about 2.5× faster to score."),
        ("code", SETUP),
        ("code", """import tempfile, time
from pathlib import Path
from sklearn.metrics import precision_recall_curve
from domains.fraud import (simulate_transactions, add_behaviour_features, time_split, compare, FraudClassifier, train,
                           evaluate, SIMULATED_SCHEMA, calibrate, cost_threshold, expected_cost, export_scorer, Scorer,
                           reliability)
work = Path(tempfile.mkdtemp())
df = add_behaviour_features(simulate_transactions(200 if SMALL else 1000, 400 if SMALL else 2000, 63 if SMALL else 90))
print(f"{len(df):,} transactions, fraud rate {df.tx_fraud.mean():.2%}")
df.tx_fraud_scenario.value_counts()"""),
        ("code", """args = dict(train_days=35, delay_days=7, test_days=14) if SMALL else dict(train_days=49, delay_days=7, test_days=28)
# Same time-ordered split for every model; the GBDTs stop early on the later validation slice.
# models=None: ours and every installed baseline (RF, balanced HGB, XGBoost / LightGBM with the `baselines` extra)
models = ("resmlp", "logistic_regression", "hist_gradient_boosting") if SMALL else None
short = {"epochs": 2} if SMALL else {}  # otherwise each model's own training policy (fit_defaults)
table = compare(df, **args, **short, models=models, seeds=range(1 if SMALL else 3))
table.round(4)"""),
        ("code", """train_rows, test = time_split(df, **args)
# The built-in preset's architecture and encoder settings, fitted to this table's training rows
model = FraudClassifier.from_preset("resmlp_fraud", load_weights=False, data=train_rows, schema=SIMULATED_SCHEMA)
train(model, train_rows, run_dir=work / "run", **short, verbose=0)
report = evaluate(model, test)
test, scores = SIMULATED_SCHEMA.validate(test), report.scores
print(report.to_markdown())
p, r, _ = precision_recall_curve(test.tx_fraud, scores)
plt.plot(r, p); plt.xlabel("recall"); plt.ylabel("precision"); plt.title("6 residual MLPs, time-ordered test"); plt.show()"""),
        ("code", """# Cost-based threshold on calibrated scores: a missed fraud costs 200, a review costs 5
half = len(test) // 2
to_prob = calibrate(test.tx_fraud[:half], scores[:half])
probs = to_prob(scores[half:])
t = cost_threshold(cost_missed_fraud=200, cost_review=5)
costs = {u: expected_cost(test.tx_fraud[half:], probs, u, cost_missed_fraud=200, cost_review=5) for u in (0.01, t, 0.1, 0.5)}
print(f"Bayes threshold {t:.3f}; cost by threshold: {costs}")
reliability(test.tx_fraud[half:], probs, bins=5)"""),
        ("code", """export_scorer(model, work / "scorer", SIMULATED_SCHEMA)
scorer = Scorer.load(work / "scorer")
row = test.iloc[0][SIMULATED_SCHEMA.features].to_dict()
times = []
for _ in range(500):
    start = time.perf_counter(); scorer.score(row); times.append(time.perf_counter() - start)
print(f"one transaction: p50 {np.percentile(times, 50) * 1e6:.0f} µs, p99 {np.percentile(times, 99) * 1e6:.0f} µs; "
      f"score {scorer.score(row):.4f}")"""),
    ],
    "05_residual_language_model.ipynb": [
        ("md", "# Residual connections in a character-level language model\n\nThe question of arXiv:2410.01019 "
               "on Tiny Shakespeare (`../shared/data/tinyshakespeare/input.txt`, or a generated text): validation "
               "loss as residual dropout and depth vary, pre-norm vs post-norm, with and without residual "
               "connections."),
        ("code", SETUP),
        ("code", """from restoolkit.language import load_text, residual_sweep, train_char_lm, generate
text, source = load_text(max_chars=200_000 if SMALL else 1_000_000)
print(source, f"{len(text):,} characters")"""),
        ("code", """grid = dict(depths=(2,), residual_dropouts=(0.0, 0.2)) if SMALL else dict(depths=(2, 4), residual_dropouts=(0.0, 0.1, 0.3))
table = residual_sweep(text, **grid, steps=40 if SMALL else 300, seq_len=64, batch_size=32)
table"""),
        ("code", """for (norm, residual), part in table.groupby(["norm", "residual"]):
    for depth, rows in part.groupby("depth"):
        plt.plot(rows.residual_dropout, rows.val_loss, "o-", label=f"{norm}-norm, depth {depth}, residual={residual}")
plt.xlabel("residual dropout"); plt.ylabel("validation loss (nats / char)"); plt.legend(fontsize=7); plt.show()"""),
        ("code", """best = train_char_lm(text, depth=2, steps=60 if SMALL else 600)
print(generate(best["model"], best["vocab"], "ROMEO:", 200 if not SMALL else 60))"""),
    ],
}


def build(folder: Path = Path(__file__).parent) -> list[Path]:
    written = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = folder / name
        nbformat.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build():
        print(p)
