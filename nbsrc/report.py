"""Tables, worked examples and result files of the chapters.

Tables are Markdown strings (the book renders notebook Markdown with MyST, so they become real HTML
tables); numbers are formatted by :func:`num` (never "-0.000") and :func:`pm` (mean ± std). Each
dataset chapter saves its claims, accuracies and good-indicator gaps to ``results/`` for the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
import torch
from matplotlib.figure import Figure

from nbsrc.analysis import ChapterResults, relative_auc, spearman
from nbsrc.checks import check_choice, fail
from nbsrc.claims import STRONG_KS, indicator_table
from nbsrc.data import DATASETS, N_TEST, N_TRAIN
from nbsrc.measures import class_selectivity_index, information_measures
from nbsrc.pruning import CRITERIA
from nbsrc.quantize import quantize
from nbsrc.redundancy import ALPHA
from nbsrc.vocabulary import COLORS, DIRECTIONS, NETWORK, QUANTITIES, SHORT, TITLES, num, ordered_scopes


def pm(mean: float, std: float, digits: int = 3, signed: bool = False) -> str:
    """ "mean ± std" (std 0 when not a number: a single seed)."""
    return f"{num(mean, digits, signed)} ± {num(0.0 if np.isnan(std) else std, digits)}"


def seed_accuracies_markdown(
    results: dict[str, ChapterResults], label: str, names: dict[str, str] | None = None, widths: bool = False
) -> str:
    """One row per network kind (``{kind: results}``, the kind in column ``label``, renamed by ``names``):
    with ``widths`` its hidden widths, then the test accuracy of each seed and their mean ± std [%],
    Markdown."""
    rows = []
    for kind, run in results.items():
        acc = run.accuracies.set_index("seed").test_accuracy * 100
        row = {label: (names or {}).get(kind, kind)}
        if widths:
            row["hidden widths"] = "-".join(map(str, run.configs[0].widths))
        row |= {f"seed {seed} [%]": f"{a:.2f}" for seed, a in acc.items()}
        row["mean ± std [%]"] = pm(acc.mean(), acc.std(), 2)
        rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False)


def spread_by_markdown(
    table: pd.DataFrame,
    case: list[str],
    by: str,
    columns: list[str] | None = None,
    names: dict[str, str] | None = None,
    signed: bool = False,
) -> str:
    """``table``'s mean ± std (columns ``by``, mean, std) with one row per ``case`` (in table order) and one
    column per value of ``by`` (``columns``' order, else the table's; renamed by ``names``); a ``quantity``
    case is shown by its short name. Markdown. A cell's "±" is bound to its numbers by no-break spaces, so
    a table with many columns narrows its headers rather than breaking "0.812 ± 0.013" over three lines."""
    cells = table.assign(
        cell=[
            pm(m, s, signed=signed).replace(" ± ", "\u00a0±\u00a0")
            for m, s in zip(table["mean"], table["std"], strict=True)
        ]
    )
    wide = cells.pivot_table(index=case, columns=by, values="cell", aggfunc="first")
    order = columns if columns is not None else list(dict.fromkeys(table[by]))
    wide = wide.reindex(columns=[c for c in order if c in wide.columns])
    keys = zip(*(table[c] for c in case), strict=True) if len(case) > 1 else table[case[0]]
    wide = wide.reindex(list(dict.fromkeys(keys)))
    wide.columns.name = None
    wide = wide.rename(columns=names or {}).reset_index()
    if "quantity" in wide:
        wide = wide.assign(quantity=wide.quantity.map(SHORT))
    return wide.to_markdown(index=False)


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
        f"\n\n| seed | test accuracy [%] |\n|---|---|\n{rows}\n"
        f"| mean ± std | {pm(acc.mean(), acc.std(ddof=1) if len(acc) > 1 else 0.0, 2)} |\n"
    )


def auc_table(auc: pd.DataFrame, value: str = "auc") -> str:
    """A per-curve summary (``auc`` or ``threshold_fraction``) as mean ± std over seeds, rows: quantity
    and direction, columns: scope, as Markdown. Random orders are averaged within a seed first.

    A threshold fraction is NaN where the curve never falls below the threshold: a cell says "never"
    when no seed's curve crosses it, and "m ± s (j of n seeds)" when only j seeds' curves do (random:
    a seed counts when the mean over its orders that cross is defined).
    """
    per_seed = auc.groupby(["scope", "quantity", "direction", "seed"])[value].mean()

    def cell(values: pd.Series) -> str:
        crossed = values.dropna()
        if crossed.empty:
            return "never"
        text = pm(crossed.mean(), crossed.std(ddof=1) if len(crossed) > 1 else 0.0)
        return text if len(crossed) == len(values) else f"{text} ({len(crossed)} of {len(values)} seeds)"

    cells = per_seed.groupby(["scope", "quantity", "direction"]).agg(cell).unstack("scope")
    cells = cells[ordered_scopes(cells.columns)]
    cells.index = [f"{SHORT[q]} {d}" if d != "random" else "random (mean of orders)" for q, d in cells.index]
    return cells.to_markdown()


def indicator_summary(indicators: pd.DataFrame) -> str:
    """The gaps to the random band per scope and quantity, and the good-indicator verdict, as Markdown."""
    table = pd.DataFrame(
        {
            "scope": indicators.scope,
            "quantity": indicators.quantity.map(SHORT),
            "asc − random": [
                pm(m, s, signed=True)
                for m, s in zip(indicators.asc_gap_mean, indicators.asc_gap_std, strict=True)
            ],
            "random − desc": [
                pm(m, s, signed=True)
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
        f"| {name} | {num(info.entropy[i])} | {num(info.mutual_information[i])} "
        f"| {num(info.kl_selectivity[i])} | {num(csi[i])} | {expected[i]} |"
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
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.6), layout="constrained")
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
    rows = "\n".join(
        f"| {TITLES[d]} | {N_TRAIN[d] - val_size:,} | {val_size:,} | {N_TEST:,} |" for d in DATASETS
    )
    return (
        "| dataset | train | validation (held out of the official train set) | test (official) |\n"
        "|---|---|---|---|\n" + rows + "\n"
    )


# ------------------------------------------------------------------------------------------------ results

RESULT_KINDS = ("claims", "accuracy", "indicators", "damage", "robustness")


def save_claims(
    claims: pd.DataFrame,
    results: ChapterResults,
    parameters: dict[str, Any],
    damage: pd.DataFrame | None = None,
) -> Path:
    """Write a chapter's claims table, its test accuracies, its good-indicator gaps, its networks' accuracy
    and robustness (:func:`robustness_table`) and (when given) its damage correlations to ``results_dir``
    (``<name>-claims.csv``, ``-accuracy.csv``, ``-indicators.csv``, ``-robustness.csv``, ``-damage.csv``)
    for the summary; ``<name>`` is the ``results_name`` parameter, else the dataset."""
    name = parameters.get("results_name") or parameters["dataset"]
    tables = {
        "claims": claims,
        "accuracy": results.accuracies,
        "indicators": indicator_table(results.auc),
        "robustness": robustness_table(results),
    }
    if damage is not None:
        tables["damage"] = damage
    paths = {
        kind: save_result(table, parameters["results_dir"], name, kind) for kind, table in tables.items()
    }
    return paths["claims"]


def network_label(config: Any) -> str:
    """A network's kind in words, from its training config: :func:`nbsrc.infoplane.network_label`, then each
    regulariser it was trained with ("ReLU 512-256-128", "ReLU 512-256-128, dropout 0.2", "sigmoid 200-200,
    weight decay 0.0001"). Networks with equal labels on one dataset differ only in recipe details that
    the result name (the chapter) tells apart."""
    from nbsrc import infoplane

    parts = [infoplane.network_label(config)]
    if config.dropout:
        parts.append(f"dropout {config.dropout:g}")
    if config.batch_norm:
        parts.append("batch norm")
    if config.weight_decay:
        parts.append(f"weight decay {config.weight_decay:g}")
    return ", ".join(parts)


def robustness_table(results: ChapterResults) -> pd.DataFrame:
    """Per network (seed) of a chapter: its kind (:func:`network_label`), its test accuracy, the mean AUC of
    its whole-network random orders (zero ablation in the book's chapters) and the mean of those AUCs
    relative to the intact accuracy above chance (:func:`nbsrc.analysis.relative_auc`: 1 no loss, 0 at
    chance), the robustness of Morcos et al.'s comparison. Columns: seed, network, test_accuracy,
    random_network_auc, relative_network_auc."""
    rows = results.auc[(results.auc.scope == NETWORK) & (results.auc.direction == "random")]
    if rows.empty:
        fail("results", "without whole-network random orders", "needs the random orders of the network scope")
    labels = {config.seed: network_label(config) for config in results.configs}
    table = results.accuracies[["seed", "test_accuracy"]].copy()
    table.insert(1, "network", table.seed.map(labels))
    table["random_network_auc"] = table.seed.map(rows.groupby("seed").auc.mean())
    relative = relative_auc(rows, results.accuracies).groupby("seed").auc.mean()
    table["relative_network_auc"] = table.seed.map(relative)
    return table


def chapter_family(name: str) -> str:
    """The kind of chapter a result name comes from: the name without its dataset ("paper" for
    ``paper_mnist``, "activations" for ``activations_cifar10``), "book" for a dataset chapter."""
    dataset = base_dataset(name)
    return "book" if name == dataset else name[: -len(dataset) - 1]


def robustness_points(names: list[str], results_dir: str | Path) -> pd.DataFrame:
    """The ``-robustness.csv`` files of the chapters ``names`` joined: one row per network, with its
    ``dataset`` (the plain dataset) and ``chapter`` (:func:`chapter_family`). A network saved by two
    chapters (the regulariser chapters' networks without a regulariser are the dataset chapter's) is kept
    once, from the first chapter that names it. Columns: dataset, chapter, network, seed, test_accuracy,
    random_network_auc, relative_network_auc."""
    joined = join_results(names, results_dir, "robustness")
    joined = joined.assign(
        chapter=joined.dataset.map(chapter_family), dataset=joined.dataset.map(base_dataset)
    )
    # the same network in two chapters: same dataset, kind, seed, accuracy and random-order AUC (the same
    # trained weights and cached curves; two recipes' networks of one kind differ in both numbers)
    same = ["dataset", "network", "seed", "test_accuracy", "random_network_auc"]
    joined = joined.drop_duplicates(same).reset_index(drop=True)
    columns = ["test_accuracy", "random_network_auc", "relative_network_auc"]
    return joined[["dataset", "chapter", "network", "seed", *columns]]


#: Morcos et al.'s comparison: the level below which Spearman's ρ counts as a clear monotone relation.
MORCOS_ALPHA = 0.05


def morcos_table(points: pd.DataFrame, by: str = "dataset") -> pd.DataFrame:
    """Morcos et al.'s comparison: per ``by`` group of ``points`` (columns test_accuracy,
    relative_network_auc, random_network_auc), the number of networks, Spearman's ρ between test accuracy
    and the whole-network random-order AUC relative to the intact accuracy above chance (``spearman_rho``;
    positive: the networks that generalise better keep a larger share of their accuracy under ablation)
    with its two-sided p-value (``p_value``; the networks of one chapter share a recipe, so it describes,
    it does not test independence), and ρ with the plain AUC (``spearman_rho_auc``, which starts at the
    intact accuracy and so rises with it by construction); NaN when either number is constant. Columns:
    ``by``, networks, spearman_rho, p_value, spearman_rho_auc."""
    rows = []
    for key, group in points.groupby(by, sort=False):
        accuracy, relative = group.test_accuracy.to_numpy(), group.relative_network_auc.to_numpy()
        rho = spearman(accuracy, relative)
        p = np.nan if np.isnan(rho) else float(scipy.stats.spearmanr(accuracy, relative).pvalue)
        plain = spearman(accuracy, group.random_network_auc.to_numpy())
        rows.append(
            {by: key, "networks": len(group), "spearman_rho": rho, "p_value": p, "spearman_rho_auc": plain}
        )
    return pd.DataFrame(rows, columns=[by, "networks", "spearman_rho", "p_value", "spearman_rho_auc"])


def morcos_reading(rho: float, p_value: float) -> str:
    """Spearman's ρ (accuracy, relative AUC) read against Morcos et al.'s finding: "as Morcos et al." when
    ρ > 0 at p < ``MORCOS_ALPHA``, "opposite to Morcos et al." when ρ < 0 at p < ``MORCOS_ALPHA``, else "no
    clear relation" ("undefined" when ρ is NaN)."""
    if np.isnan(rho):
        return "undefined"
    if p_value >= MORCOS_ALPHA:
        return "no clear relation"
    return "as Morcos et al." if rho > 0 else "opposite to Morcos et al."


def morcos_markdown(points: pd.DataFrame) -> str:
    """:func:`morcos_table` per dataset (plain dataset names), with the dataset's title and the reading of
    ρ (:func:`morcos_reading`), Markdown."""
    table = morcos_table(points)

    def rho(values: pd.Series) -> pd.Series:
        return values.map(lambda r: "–" if np.isnan(r) else num(r, 2, signed=True))

    table = table.assign(
        dataset=table.dataset.map(lambda d: TITLES.get(d, d)),
        reading=[morcos_reading(r, p) for r, p in zip(table.spearman_rho, table.p_value, strict=True)],
        spearman_rho=rho(table.spearman_rho),
        p_value=table.p_value.map(lambda p: "–" if np.isnan(p) else f"{p:.2g}"),
        spearman_rho_auc=rho(table.spearman_rho_auc),
    )
    names = {
        "spearman_rho": "Spearman ρ (accuracy, relative AUC)",
        "p_value": "p",
        "spearman_rho_auc": "Spearman ρ (accuracy, AUC)",
    }
    columns = ["dataset", "networks", "spearman_rho", "p_value", "reading", "spearman_rho_auc"]
    # the cells as written (signed ρ, p in two digits), not re-parsed as numbers
    return table[columns].rename(columns=names).to_markdown(index=False, disable_numparse=True)


def save_result(table: pd.DataFrame, results_dir: str | Path, name: str, kind: str) -> Path:
    """Write one result table for the summary as ``<results_dir>/<name>-<kind>.csv``, with a ``dataset``
    column holding ``name``; returns the file."""
    folder = Path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{kind}.csv"
    table.assign(dataset=name).to_csv(path, index=False)
    return path


def join_results(datasets: list[str], results_dir: str | Path, kind: str = "claims") -> pd.DataFrame:
    """One kind of result file (claims, accuracy, indicators) of the given datasets, one below the other."""
    check_choice("kind", kind, RESULT_KINDS)
    folder = Path(results_dir)
    missing = [d for d in datasets if not (folder / f"{d}-{kind}.csv").exists()]
    if missing:
        raise FileNotFoundError(f"no {kind} table for {missing} in {folder}: execute those chapters first")
    # a verdict "n/a" is a word, not a missing value
    options = {"keep_default_na": False} if kind == "claims" else {}
    frames = [pd.read_csv(folder / f"{d}-{kind}.csv", **options) for d in datasets]
    return pd.concat(frames, ignore_index=True)


def join_claims(datasets: list[str], results_dir: str | Path) -> pd.DataFrame:
    """The claims tables of the given datasets, one below the other."""
    return join_results(datasets, results_dir, "claims")


def verdict_matrix(joined: pd.DataFrame) -> pd.DataFrame:
    """Claims x datasets, each cell the verdict, with the paper's statement first."""
    matrix = joined.pivot(index="claim", columns="dataset", values="verdict")
    matrix = matrix[[d for d in DATASETS if d in matrix.columns]].rename(columns=TITLES)
    claims = list(dict.fromkeys(joined.claim))  # the chapters' order, not alphabetical
    paper = joined.drop_duplicates("claim").set_index("claim").paper
    table = matrix.assign(**{"the paper's claim": paper})[["the paper's claim", *matrix.columns]]
    return table.loc[claims]


#: The kinds of chapter (:func:`chapter_family`) in the readers' words.
CHAPTER_TITLES = {
    "book": "book's recipe",
    "raw_constant": "raw inputs, constant LR",
    "paper": "paper's setting",
    "activations": "activations",
    "regularisers": "regularisers",
    "pruning": "pruning",
}


def with_titles(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its ``dataset`` column in the readers' names (MNIST, Fashion-MNIST, CIFAR-10), and its
    ``chapter`` column, where it has one, in :data:`CHAPTER_TITLES`' words."""
    titled = table.assign(dataset=table.dataset.map(lambda d: TITLES.get(d, d)))
    if "chapter" in titled:
        titled = titled.assign(chapter=titled.chapter.map(lambda c: CHAPTER_TITLES.get(c, c)))
    return titled


def ks_table(largest: pd.DataFrame) -> str:
    """Per quantity, the pair of layers whose KS statistic (mean ± std over seeds) is largest, as Markdown
    (the table of :func:`nbsrc.claims.largest_layer_ks`)."""
    if largest.empty:
        return "Fewer than two hidden layers: no pair of layers to compare."
    table = pd.DataFrame(
        {
            "quantity": largest.quantity.map(SHORT),
            "layers": [f"{a} and {b}" for a, b in zip(largest.layer_a, largest.layer_b, strict=True)],
            "KS statistic": [pm(m, s) for m, s in zip(largest.ks_mean, largest.ks_std, strict=True)],
            f"strong (>= {STRONG_KS})": largest.strong.map({True: "yes", False: "no"}),
        }
    )
    return table.to_markdown(index=False)


def bias_balancing_table(gains: pd.DataFrame) -> str:
    """AUC gain of bias balancing over zero ablation (mean ± std over seeds), Markdown.

    One row per scope and ordering quantity: the gain of its ascending and of its descending order; the
    last column, on a scope's first row, the gain of the random orders (averaged within a seed first).
    ``gains`` is :func:`nbsrc.analysis.paired_auc_gain` of the zero and the mean ablation AUCs.
    """
    stats = gains.groupby(["scope", "direction", "quantity"], sort=False)["gain"].agg(["mean", "std"])
    quantities = [q for q in QUANTITIES if q in set(gains.quantity)]
    rows = []
    for scope in ordered_scopes(gains.scope.unique()):
        random_gain = pm(*stats.loc[(scope, "random", "random")], signed=True)
        for i, q in enumerate(quantities):
            cells = {d: pm(*stats.loc[(scope, d, q)], signed=True) for d in DIRECTIONS}
            rows.append(
                {"scope": scope, "quantity": SHORT[q], **cells, "random orders": "" if i else random_gain}
            )
    return pd.DataFrame(rows).to_markdown(index=False)


def base_dataset(name: str) -> str:
    """The dataset a result name belongs to: ``mnist`` for ``mnist``, ``paper_mnist`` and
    ``raw_constant_mnist`` (the longest dataset name it ends with)."""
    matches = [d for d in DATASETS if name == d or name.endswith(f"_{d}")]
    if not matches:
        fail("result name", name, f"must be or end with a dataset: {', '.join(DATASETS)}")
    return max(matches, key=len)


def recipe_verdicts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The joined claims tables of several recipes (``{recipe: claims}``), one row per claim and dataset
    judged under every recipe: ``claim``, ``paper``, ``dataset`` (the plain dataset) and one verdict column
    per recipe, in the recipes' order; claims in the first table's order, datasets in the book's."""
    frames = []
    for name, table in tables.items():
        plain = table.assign(dataset=table.dataset.map(base_dataset))
        frames.append(plain.set_index(["claim", "dataset"]).verdict.rename(name))
    joined = pd.concat(frames, axis=1, join="inner").reset_index()
    first = next(iter(tables.values()))
    claims = list(dict.fromkeys(first.claim))
    joined["paper"] = joined.claim.map(first.drop_duplicates("claim").set_index("claim").paper)
    joined = joined.assign(
        claim_order=joined.claim.map(claims.index), dataset_order=joined.dataset.map(list(DATASETS).index)
    )
    joined = joined.sort_values(["claim_order", "dataset_order"])
    return joined[["claim", "paper", "dataset", *tables]].reset_index(drop=True)


def recipe_matrix(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Claims x datasets, each cell the verdicts under the recipes of ``tables`` joined by " / " (in the
    recipes' order), with the paper's statement first (``recipe_verdicts``)."""
    verdicts = recipe_verdicts(tables)
    cells = verdicts.assign(cell=verdicts[list(tables)].agg(" / ".join, axis=1))
    matrix = cells.pivot(index="claim", columns="dataset", values="cell")
    datasets = [d for d in DATASETS if d in matrix.columns]
    claims = list(dict.fromkeys(verdicts.claim))
    statement = verdicts.drop_duplicates("claim").set_index("claim").paper
    table = matrix.loc[claims, datasets].rename(columns=TITLES)
    return table.assign(**{"the paper's claim": statement.loc[claims]})[["the paper's claim", *table.columns]]


def damage_table(correlations: pd.DataFrame) -> str:
    """Spearman ρ of each quantity (rows) with the single-neuron drop, per scope (columns): mean ± std over
    seeds to two digits, Markdown."""
    stats = correlations.groupby(["scope", "quantity"])["rho"].agg(["mean", "std"])
    quantities = [q for q in QUANTITIES if q in set(correlations.quantity)]
    scopes = ordered_scopes(correlations.scope.unique())
    rows = [
        {"quantity": SHORT[q], **{scope: pm(*stats.loc[(scope, q)], 2, signed=True) for scope in scopes}}
        for q in quantities
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


def damage_summary(correlations: pd.DataFrame) -> pd.DataFrame:
    """Per dataset (rows) and scope (columns): the quantity with the highest mean Spearman ρ with the
    single-neuron drop, with its ρ (mean ± std over seeds). ``correlations``: joined ``damage`` results."""
    stats = correlations.groupby(["dataset", "scope", "quantity"])["rho"].agg(["mean", "std"])
    scopes = ordered_scopes(correlations.scope.unique())
    datasets = [d for d in DATASETS if d in set(correlations.dataset)]
    table = {}
    for dataset in datasets:
        row = {}
        for scope in scopes:
            if (dataset, scope) not in stats.index.droplevel("quantity"):
                row[scope] = ""
                continue
            best = stats.loc[(dataset, scope)]["mean"].idxmax()
            row[scope] = f"{SHORT[best]} {pm(*stats.loc[(dataset, scope, best)], 2, signed=True)}"
        table[TITLES[dataset]] = row
    return pd.DataFrame(table).T[scopes]


def ranked_table(indicators: pd.DataFrame, ranked_indicators: pd.DataFrame) -> str:
    """Whole-network AUC gaps of each quantity's raw orders against its per-layer-percentile orders
    (mean ± std over seeds, Markdown; both tables :func:`nbsrc.claims.indicator_table`)."""
    raw = indicators[indicators.scope == NETWORK].set_index("quantity")
    ranked = ranked_indicators[ranked_indicators.scope == NETWORK].set_index("quantity")
    yes = {True: "yes", False: "no"}
    rows = [
        {
            "quantity": SHORT[q],
            "asc − random, raw": pm(raw.loc[q, "asc_gap_mean"], raw.loc[q, "asc_gap_std"], signed=True),
            "asc − random, ranked": pm(
                ranked.loc[q, "asc_gap_mean"], ranked.loc[q, "asc_gap_std"], signed=True
            ),
            "random − desc, raw": pm(raw.loc[q, "desc_gap_mean"], raw.loc[q, "desc_gap_std"], signed=True),
            "random − desc, ranked": pm(
                ranked.loc[q, "desc_gap_mean"], ranked.loc[q, "desc_gap_std"], signed=True
            ),
            "good: raw / ranked": f"{yes[bool(raw.loc[q, 'good'])]} / {yes[bool(ranked.loc[q, 'good'])]}",
        }
        for q in QUANTITIES
        if q in raw.index and q in ranked.index
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


def redundancy_table(labels: pd.DataFrame, contrasts: pd.DataFrame) -> str:
    """Per layer and quantity: what the curves suggest, and the pair tests of its top and bottom quarter
    against random pairs: Δ synergy [bits] and Δ damage interaction [accuracy points], mean over seeds,
    with * where the Mann-Whitney p < 0.05 (Markdown)."""
    stats = contrasts.set_index(["scope", "quantity", "group"])

    def cell(scope: str, quantity: str, group: str, value: str, scale: float, digits: int) -> str:
        r = stats.loc[(scope, quantity, group)]
        star = "*" if r[f"{value}_p"] < ALPHA else ""
        return f"{num(scale * r[f'{value}_mean'], digits, signed=True)}{star}"

    rows = [
        {
            "layer": r.layer,
            "quantity": SHORT[r.quantity],
            "curves suggest": r.label,
            "top ¼: ΔS": cell(r.scope, r.quantity, "top", "synergy", 1.0, 4),
            "top ¼: Δ interaction": cell(r.scope, r.quantity, "top", "interaction", 100.0, 3),
            "bottom ¼: ΔS": cell(r.scope, r.quantity, "bottom", "synergy", 1.0, 4),
            "bottom ¼: Δ interaction": cell(r.scope, r.quantity, "bottom", "interaction", 100.0, 3),
        }
        for r in labels.itertuples()
    ]
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def stable_size_table(stable: pd.DataFrame, largest: int) -> str:
    """The smallest validation sample size at which each quantity's ranking agrees with the full-split
    ranking at ρ >= 0.9 (seed mean), per estimator (rows) and layer (columns); "> largest" where no size
    studied reaches it (Markdown)."""
    table = stable.assign(
        cell=[f"> {largest:,}" if np.isnan(n) else f"{int(n):,}" for n in stable.n],
        row=[f"{SHORT[q]}, {e}" for q, e in zip(stable.quantity, stable.estimator, strict=True)],
    ).pivot(index="row", columns="scope", values="cell")
    rows = [f"{SHORT[q]}, {e}" for q in QUANTITIES for e in ("plug-in", "Miller-Madow")]
    table = table.loc[[r for r in rows if r in table.index], ordered_scopes(table.columns)]
    return table.rename_axis(index="quantity, estimator", columns=None).to_markdown(disable_numparse=True)


def phase_table(summary: pd.DataFrame) -> str:
    """The information plane per network kind and layer (:func:`nbsrc.infoplane.phase_summary`): mean H
    and I (bits) at the start, the peak and the end of training (means over seeds), the epoch of the peak,
    and the fall from peak to end (mean ± std over seeds), as Markdown."""

    def path(r: pd.Series, q: str) -> str:
        return " → ".join(num(r[f"{q} {moment} mean"], 2) for moment in ("start", "peak", "end"))

    rows = [
        {
            "network": r["network"],
            "layer": int(r["layer"]),
            "H: start → peak → end [bits]": path(r, "H"),
            "H peak at epoch": num(r["H peak epoch mean"], 1),
            "H fall [bits]": pm(r["H fall mean"], r["H fall std"], 2),
            "I(T; Y): start → peak → end [bits]": path(r, "I"),
            "I peak at epoch": num(r["I peak epoch mean"], 1),
            "I fall [bits]": pm(r["I fall mean"], r["I fall std"], 2),
        }
        for _, r in summary.iterrows()
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


def pruning_share_table(shares: pd.DataFrame) -> str:
    """C7's share per criterion (rows) and kept fraction (columns) for one network kind: of the accuracy
    fine-tuning recovers over zero ablation, the share bias balancing alone recovers (mean ± std over
    seeds; "–" where fine-tuning gains less than the floor in some seed), as Markdown."""
    stats = shares.groupby(["criterion", "kept"], sort=False).share.agg(["mean", "std", "count", "size"])
    fractions = sorted(shares.kept.unique(), reverse=True)
    rows = []
    for criterion in [c for c in CRITERIA if c in set(shares.criterion)]:
        row = {"criterion": SHORT[criterion]}
        for kept in fractions:
            s = stats.loc[(criterion, kept)]
            row[f"{100 * kept:g} % kept"] = pm(s["mean"], s["std"], 2) if s["count"] == s["size"] else "–"
        rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False)


def pruning_summary(claims: pd.DataFrame) -> pd.DataFrame:
    """The pruning chapters' C7 rows joined (``join_results`` of ``pruning_<dataset>``): one row per
    dataset and network kind with the number measured and the verdict."""
    table = claims.assign(dataset=claims.dataset.map(lambda name: TITLES[base_dataset(name)]))
    return table[["dataset", "network", "measured", "verdict"]].reset_index(drop=True)


def activation_verdicts(claims: pd.DataFrame) -> pd.DataFrame:
    """The activation chapters' claims joined (``join_results`` of ``activations_<dataset>``): one row per
    claim and dataset, one verdict column per activation for the claims judged per activation (C2, C2w, C6
    on equal widths) and the verdict across the activations for C5 ("–" where a column does not apply)."""
    from nbsrc.infoplane import ACTIVATION_NAMES

    table = claims.assign(dataset=claims.dataset.map(base_dataset))
    activations = [a for a in ACTIVATION_NAMES if a in set(table.activation)]
    columns = [*activations, "all"]
    wide = table.pivot_table(
        index=["claim", "dataset"], columns="activation", values="verdict", aggfunc="first"
    )
    wide = wide.reindex(columns=columns).fillna("–")
    claim_order = list(dict.fromkeys(table.claim))
    keys = sorted(wide.index, key=lambda k: (claim_order.index(k[0]), list(DATASETS).index(k[1])))
    wide = wide.loc[keys].reset_index()
    wide["dataset"] = wide.dataset.map(TITLES)
    names = {a: ACTIVATION_NAMES[a] for a in activations} | {"all": "across activations"}
    wide.columns.name = None
    return wide.rename(columns=names)


def regulariser_verdicts(claims: pd.DataFrame) -> pd.DataFrame:
    """The regulariser chapters' claims joined (``join_results`` of ``regularisers_<dataset>``): one row per
    dataset and claim (C9) with its verdict and measured numbers."""
    table = claims.assign(dataset=claims.dataset.map(base_dataset))
    table = table.sort_values("dataset", key=lambda c: c.map(list(DATASETS).index), kind="stable")
    table = table.assign(dataset=table.dataset.map(TITLES))
    return table[["dataset", "claim", "verdict", "measured"]].reset_index(drop=True)
