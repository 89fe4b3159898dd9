"""Training recipes: what each sets, overrides, and the chapter set-up built on them."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from nbsrc.chapters import (
    PAPER_CHAPTERS,
    RAW_CHAPTERS,
    book_chapters,
    dataset_chapter,
    dataset_setup,
    paper_chapter,
    recipe_chapter,
)
from nbsrc.data import DATASETS
from nbsrc.recipes import PAPER_EPOCHS, PAPER_L2, RECIPES, recipe, recipe_config
from nbsrc.train import DEFAULT_CONFIGS


@pytest.mark.parametrize("dataset", DATASETS)
def test_book_recipe_is_the_dataset_default(dataset):
    assert recipe_config("book", dataset) == DEFAULT_CONFIGS[dataset]


@pytest.mark.parametrize("dataset", DATASETS)
def test_raw_constant_changes_only_the_inputs_and_the_schedule(dataset):
    book, raw = asdict(DEFAULT_CONFIGS[dataset]), asdict(recipe_config("raw_constant", dataset))
    changed = {name for name in book if book[name] != raw[name]}
    assert changed == {"standardize", "lr_schedule"}
    assert raw["standardize"] is False and raw["lr_schedule"] == "constant"


@pytest.mark.parametrize("dataset", DATASETS)
def test_paper_recipe_is_the_first_version_as_described(dataset):
    c = recipe_config("paper_v1", dataset, seed=4)
    assert c.widths == (200, 200) and c.activation == "sigmoid"
    assert (c.lr, c.lr_schedule, c.batch_size) == (1e-3, "constant", 32)
    assert c.weight_decay == PAPER_L2 > 0 and c.epochs == PAPER_EPOCHS
    assert c.standardize is False and c.val_size == 10000 and c.seed == 4
    assert not c.dropout and not c.batch_norm


def test_recipe_fields_can_be_overridden_one_by_one():
    c = recipe_config("paper_v1", "mnist", activation="relu", epochs=3)
    assert (c.activation, c.epochs, c.widths, c.batch_size) == ("relu", 3, (200, 200), 32)


def test_every_recipe_says_what_it_is_and_the_paper_says_what_is_chosen():
    for name in RECIPES:
        r = recipe(name)
        assert r.name == name and len(r.title) > 5 and len(r.description) > 40
    assert len(recipe("paper_v1").choices) >= 4
    assert any("L2" in choice and f"{PAPER_L2:g}" in choice for choice in recipe("paper_v1").choices)
    with pytest.raises(ValueError, match=r"invalid recipe='paper'; allowed values: 'book', 'raw_constant'"):
        recipe_config("paper", "mnist")


def test_chapter_setup_uses_the_recipe_and_its_parameters_override_it():
    configs, settings = dataset_setup(recipe="paper_v1", seeds=[0, 1])
    assert [c.seed for c in configs] == [0, 1]
    assert all(c == recipe_config("paper_v1", "mnist", seed=c.seed) for c in configs)
    configs, _ = dataset_setup(recipe="paper_v1", activation="tanh", weight_decay=0.0)
    assert all(c.activation == "tanh" and c.weight_decay == 0.0 and c.widths == (200, 200) for c in configs)
    with pytest.raises(ValueError, match=r"invalid recipe='v1'"):
        dataset_setup(recipe="v1")
    with pytest.raises(ValueError, match=r"invalid ablation_mode='mean'; must be 'zero' with compare_bias"):
        dataset_setup(ablation_mode="mean", compare_bias_balancing=True)
    with pytest.raises(ValueError, match=r"invalid compare_bias_balancing='yes'"):
        dataset_setup(compare_bias_balancing="yes")


def test_the_book_has_one_paper_chapter_per_dataset():
    chapters = {c.name: c for c in book_chapters()}
    assert set(PAPER_CHAPTERS) <= set(chapters)
    for dataset in DATASETS:
        chapter = chapters[f"paper_{dataset}"]
        assert chapter == paper_chapter(dataset)
        p = chapter.parameters
        assert (p["recipe"], p["compare_bias_balancing"], p["results_name"]) == (
            "paper_v1",
            True,
            chapter.name,
        )
        assert chapter.datasets == (dataset,) and chapter.template == "dataset"
    names = list(chapters)
    assert names.index("summary") == len(names) - 1 and names[0] == "method"


def test_the_raw_inputs_chapters_differ_from_the_dataset_chapters_only_in_the_recipe():
    chapters = {c.name: c for c in book_chapters()}
    assert set(RAW_CHAPTERS) <= set(chapters)
    for dataset in DATASETS:
        chapter = chapters[f"raw_constant_{dataset}"]
        assert chapter == recipe_chapter("raw_constant", dataset)
        plain = dataset_chapter(dataset).parameters
        changed = {k for k, v in chapter.parameters.items() if plain[k] != v}
        assert changed == {"recipe", "results_name"}
        assert chapter.parameters["results_name"] == chapter.name
        config = dataset_setup(**chapter.parameters)[0][0]
        assert (config.standardize, config.lr_schedule, config.activation) == (False, "constant", "relu")
    with pytest.raises(
        ValueError, match=r"invalid recipe='book'; allowed values: 'paper_v1', 'raw_constant'"
    ):
        recipe_chapter("book", "mnist")
