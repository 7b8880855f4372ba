"""Per-group charts as PNG files (matplotlib, Agg backend: no display needed)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first
import numpy as np


def grouped_bars(
    path: Path,
    title: str,
    groups: list[str],
    series: dict[str, list[float]],
    ylabel: str,
    errors: dict[str, tuple[list[float], list[float]]] | None = None,
) -> Path:
    """Bars per group for each named series, with optional (low, high) interval whiskers."""
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(groups) + 2), 3.2), dpi=100)
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for k, (name, values) in enumerate(series.items()):
        yerr = None
        if errors and name in errors:
            low, high = errors[name]
            yerr = np.abs(np.array([np.subtract(values, low), np.subtract(high, values)]))
        ax.bar(x + k * width - 0.4 + width / 2, values, width, label=name, yerr=yerr, capsize=3)
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def side_by_side(
    path: Path, pairs: list[tuple[np.ndarray, np.ndarray, str]], titles: tuple[str, str]
) -> Path:
    """Rows of (generated, nearest training image, caption) for replication examples."""
    rows = max(1, len(pairs))
    fig, axes = plt.subplots(rows, 2, figsize=(4.2, 2.0 * rows), dpi=100, squeeze=False)
    for row, (left, right, caption) in enumerate(pairs):
        for col, img in enumerate((left, right)):
            ax = axes[row][col]
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=8)
        axes[row][0].set_ylabel(caption[:28], fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
