"""Tables and small worked examples that the chapters display (Markdown strings and figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from nbsrc.analysis import ChapterResults
from nbsrc.data import DATASETS, N_TEST, N_TRAIN
from nbsrc.measures import class_selectivity_index, information_measures
from nbsrc.quantize import quantize
from nbsrc.vocabulary import COLORS, SHORT, TITLES


def accuracy_table(results: ChapterResults) -> str:
    """Architecture and test accuracy per seed, with mean ± std, as Markdown."""
    config = results.configs[0]
    acc = results.accuracies.set_index("seed").test_accuracy * 100
    rows = "\n".join(f"| {seed} | {a:.2f} |" for seed, a in acc.items())
    widths = "-".join(map(str, config.widths))
    return (
        f"Architecture: hidden widths {widths}, {config.activation}, {config.epochs} epochs, "
        f"batch size {config.batch_size}, learning rate {config.lr:g} ({config.lr_schedule}), "
        f"dropout {config.dropout:g}, batch norm {config.batch_norm}, weight decay {config.weight_decay:g}."
        f"\n\n| seed | test accuracy [%] |\n|---|---|\n{rows}\n| mean ± std | {acc.mean():.2f} ± "
        f"{acc.std(ddof=1) if len(acc) > 1 else 0.0:.2f} |\n"
    )


def auc_table(auc: pd.DataFrame, value: str = "auc") -> str:
    """A per-curve summary (``auc`` or ``threshold_fraction``) as mean ± std over seeds (random: mean of
    the orders first), rows: quantity and direction, columns: scope, as Markdown."""
    per_seed = auc.groupby(["scope", "quantity", "direction", "seed"])[value].mean()
    stats = per_seed.groupby(["scope", "quantity", "direction"]).agg(["mean", "std"]).fillna(0.0)
    cells = stats.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f}", axis=1).unstack("scope")
    cells.index = [f"{SHORT[q]} {d}" if d != "random" else "random (mean of orders)" for q, d in cells.index]
    return cells.to_markdown()


def indicator_summary(indicators: pd.DataFrame) -> str:
    """The gaps to the random band per scope and quantity, and the good-indicator verdict, as Markdown."""
    table = pd.DataFrame(
        {
            "scope": indicators.scope,
            "quantity": indicators.quantity.map(SHORT),
            "asc − random": [
                f"{m:+.3f} ± {s:.3f}"
                for m, s in zip(indicators.asc_gap_mean, indicators.asc_gap_std, strict=True)
            ],
            "random − desc": [
                f"{m:+.3f} ± {s:.3f}"
                for m, s in zip(indicators.desc_gap_mean, indicators.desc_gap_std, strict=True)
            ],
            "asc above band (share of seeds)": indicators.asc_above.round(2),
            "desc below band (share of seeds)": indicators.desc_below.round(2),
            "good indicator": indicators.good.map({True: "yes", False: "no"}),
        }
    )
    return table.to_markdown(index=False)


def worked_examples() -> str:
    """H, I, KL selectivity and CSI of three hand-checkable neurons, computed by nbsrc, as Markdown."""
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    neurons = {
        "equal to the class (4 values)": labels,
        "constant": torch.zeros(8, dtype=torch.long),
        "independent of the class (binary)": torch.tensor([0, 1, 0, 1, 0, 1, 0, 1]),
    }
    codes = torch.stack(list(neurons.values()), dim=1)
    info = information_measures(codes, labels, n_values=4, n_classes=4)
    csi = class_selectivity_index(codes.double(), labels, 4)
    expected = ["2, 2, 2 (Y is fully determined)", "0, 0, 0", "1, 0, 0 (one fair bit, unrelated to Y)"]
    rows = "\n".join(
        f"| {name} | {info.entropy[i]:.3f} | {info.mutual_information[i]:.3f} | {info.kl_selectivity[i]:.3f} "
        f"| {csi[i]:.3f} | {expected[i]} |"
        for i, name in enumerate(neurons)
    )
    return (
        "| neuron | H [bits] | I(T;Y) [bits] | KL sel. [bits] | CSI | by hand: H, I, KL sel. |\n"
        "|---|---|---|---|---|---|\n" + rows + "\n"
    )


def quantizer_demo(n: int = 2000, seed: int = 0) -> Figure:
    """Codes of one ReLU-like neuron under the three quantisers (B = 4 for the binned ones)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    t = torch.from_numpy(np.maximum(rng.normal(0.3, 1.0, size=(n, 1)), 0.0))
    fig, axes = plt.subplots(1, 3, figsize=(11, 3), layout="constrained")
    for ax, (method, bins) in zip(axes, [("binary", 2), ("equal_width", 4), ("equal_mass", 4)], strict=True):
        codes, n_values = quantize(t, method, "relu", bins)
        counts = np.bincount(codes[:, 0].numpy(), minlength=n_values)
        ax.bar(range(n_values), counts / n * 100, color=COLORS["entropy"])
        h = information_measures(codes, torch.zeros(n, dtype=torch.long), n_values, 2).entropy[0]
        ax.set(
            title=f"{method.replace('_', ' ')} (H = {h:.2f} bits)",
            xlabel="code",
            ylabel="samples [%]",
            xticks=range(n_values),
        )
    return fig


def splits_table(val_size: int = 10000) -> str:
    """Train / validation / test sizes per dataset, as Markdown."""
    rows = "\n".join(f"| {d} | {N_TRAIN[d] - val_size:,} | {val_size:,} | {N_TEST:,} |" for d in DATASETS)
    return (
        "| dataset | train | validation (held out of the official train set) | test (official) |\n"
        "|---|---|---|---|\n" + rows + "\n"
    )


# ------------------------------------------------------------------------------------------------ results

def save_claims(claims: pd.DataFrame, results: ChapterResults, parameters: dict[str, Any]) -> Path:
    """Write a chapter's claims table (and its test accuracies) to ``results_dir`` for the summary."""
    folder = Path(parameters["results_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    dataset = parameters["dataset"]
    claims.assign(dataset=dataset).to_csv(folder / f"{dataset}-claims.csv", index=False)
    results.accuracies.assign(dataset=dataset).to_csv(folder / f"{dataset}-accuracy.csv", index=False)
    return folder / f"{dataset}-claims.csv"


def join_claims(datasets: list[str], results_dir: str | Path) -> pd.DataFrame:
    """The claims tables of the given datasets, one below the other."""
    folder = Path(results_dir)
    missing = [d for d in datasets if not (folder / f"{d}-claims.csv").exists()]
    if missing:
        raise FileNotFoundError(f"no claims table for {missing} in {folder}: execute those chapters first")
    return pd.concat([pd.read_csv(folder / f"{d}-claims.csv") for d in datasets], ignore_index=True)


def verdict_matrix(joined: pd.DataFrame) -> pd.DataFrame:
    """Claims x datasets, each cell the verdict."""
    matrix = joined.pivot(index="claim", columns="dataset", values="verdict")
    matrix = matrix[[d for d in DATASETS if d in matrix.columns]].rename(columns=TITLES)
    paper = joined.drop_duplicates("claim").set_index("claim").paper
    return matrix.assign(**{"the paper's claim": paper})[["the paper's claim", *matrix.columns]]


def discussion(joined: pd.DataFrame) -> str:
    """One paragraph per claim quoting each dataset's verdict and number; and the summary for the intro."""
    paragraphs = []
    for claim, rows in joined.groupby("claim"):
        counts = rows.verdict.value_counts()
        tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in ("agrees", "partly", "disagrees"))
        lines = "\n".join(
            f"- {TITLES.get(r.dataset, r.dataset)}: **{r.verdict}**. {r.measured}" for r in rows.itertuples()
        )
        paragraphs.append(
            f"**{claim}**: *{rows.paper.iloc[0]}* Over {len(rows)} datasets: {tally}.\n\n{lines}"
        )
    return "\n\n".join(paragraphs)
