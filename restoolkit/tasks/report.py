"""``Report``: what every domain's ``evaluate`` returns — metrics, tables and plots, as Markdown or a folder."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


def _plain(value):
    """JSON-ready numbers (NaN and infinities become null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Report:
    """The result of ``evaluate`` in every domain.

    Attributes:
        title: the report's heading.
        metrics: a flat ``{name: number}`` dict (nested dicts allowed for grouped values).
        tables: named ``pandas.DataFrame`` tables.
        figures: named functions ``draw(ax)`` that draw one plot each on a Matplotlib axes; a function
            with a ``panels = (rows, cols, (width, height))`` attribute gets a list of axes instead.
        notes: Markdown paragraphs placed after the metrics.
    """

    title: str
    metrics: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Callable] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def _metric_lines(self) -> list[str]:
        rows = []
        for key, value in self.metrics.items():
            if isinstance(value, float):
                value = f"{value:.4f}"
            elif isinstance(value, list | tuple) and all(isinstance(v, float) for v in value):
                value = "–".join(f"{v:.4f}" for v in value)
            elif isinstance(value, dict):
                continue
            rows.append(f"| {key} | {value} |")
        return ["| metric | value |", "|---|---|", *rows] if rows else []

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", *self._metric_lines(), ""]
        for note in self.notes:
            lines += [note, ""]
        for name, table in self.tables.items():
            lines += [f"## {name}", "", table.to_markdown(), ""]
        for name in self.figures:
            lines += [f"![{name}]({name}.png)", ""]
        return "\n".join(lines)

    def save(self, folder) -> Path:
        """Writes ``report.md``, ``metrics.json``, one CSV per table and one PNG per figure; returns
        the path of ``report.md``."""
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metrics.json").write_text(json.dumps(_plain(self.metrics), indent=2))
        for name, table in self.tables.items():
            table.to_csv(folder / f"{name}.csv")
        for name, draw in self.figures.items():
            panels = getattr(draw, "panels", None)  # (rows, cols, (width, height)): a grid of axes
            if panels:
                rows, cols, figsize = panels
                fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False)
                draw(list(axes.ravel()))
            else:
                fig, ax = plt.subplots(figsize=(5, 4))
                draw(ax)
            fig.savefig(folder / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(fig)
        path = folder / "report.md"
        path.write_text(self.to_markdown())
        return path
