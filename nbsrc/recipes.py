"""Training recipes: named ways of training a dataset's networks, with what each leaves open.

A recipe fixes the architecture and the optimisation of a chapter's networks; the chapter's own
parameters may still override single fields. Each recipe states, for the reader, what it is and which
of its details are this book's choices rather than known facts (``choices``).

- ``book``: this book's default (ReLU 512-256-128, standardised inputs, Adam with a cosine schedule).
- ``raw_constant``: the same networks on raw [0, 1] pixels with a constant learning rate, the other
  common recipe (an independent run with it gave a different first layer on MNIST).
- ``paper_v1``: the first version of the paper as a public replication describes it: 784-200-200-10,
  sigmoid, Adam (learning rate 1e-3, batch 32), cross-entropy with an L2 penalty, 50,000 / 10,000 /
  10,000 on MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbsrc.checks import check_choice
from nbsrc.train import TrainConfig, default_config

RECIPES = ("book", "raw_constant", "paper_v1")

#: The paper's L2 penalty is not known; this book's choice. Adam's ``weight_decay`` adds wd * w to
#: every parameter's gradient: the loss cross-entropy + (wd / 2) * ||theta||^2 over all weights and biases.
PAPER_L2 = 1e-4
#: The paper's number of epochs is not known; this book's choice (validation accuracy has levelled off).
PAPER_EPOCHS = 20


@dataclass(frozen=True)
class Recipe:
    """A named training recipe: its fields per dataset and what the reader should know about it."""

    name: str
    title: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()


_RECIPES = {
    "book": Recipe(
        "book",
        "this book's default",
        "ReLU networks 512-256-128 on standardised inputs, Adam with a cosine learning-rate schedule "
        "(a learning rate and a number of epochs per dataset)",
    ),
    "raw_constant": Recipe(
        "raw_constant",
        "raw inputs, constant learning rate",
        "the book's networks (ReLU 512-256-128) on raw [0, 1] pixels with a constant learning rate",
        {"standardize": False, "lr_schedule": "constant"},
    ),
    "paper_v1": Recipe(
        "paper_v1",
        "the paper's first version",
        "784-200-200-10 (3,072-200-200-10 on CIFAR-10) with sigmoid activations, Adam with learning rate "
        "1e-3 and batch 32, cross-entropy with an L2 penalty, on raw [0, 1] pixels; 10,000 validation "
        "images held out of the official training set, so MNIST splits 50,000 / 10,000 / 10,000 as in "
        "the paper",
        {
            "widths": (200, 200),
            "activation": "sigmoid",
            "lr": 1e-3,
            "lr_schedule": "constant",
            "batch_size": 32,
            "weight_decay": PAPER_L2,
            "epochs": PAPER_EPOCHS,
            "standardize": False,
        },
        (
            f"the L2 penalty's strength: Adam weight decay {PAPER_L2:g} on every weight and bias, that is "
            f"cross-entropy + {PAPER_L2 / 2:g} ||θ||²",
            f"the number of epochs: {PAPER_EPOCHS}, at a constant learning rate",
            "the input scaling: raw pixels in [0, 1], no standardisation",
            "the initialisation: PyTorch's default for linear layers",
            "Fashion-MNIST and CIFAR-10: the paper's first version used MNIST only; the same recipe is "
            "applied to them unchanged",
        ),
    ),
}


def recipe(name: str) -> Recipe:
    """The recipe called ``name`` (one of ``RECIPES``)."""
    return _RECIPES[check_choice("recipe", name, RECIPES)]


def recipe_config(name: str, dataset: str, **overrides: Any) -> TrainConfig:
    """The training configuration of ``dataset`` under recipe ``name``, with single fields overridden."""
    return default_config(dataset, **{**recipe(name).overrides, **overrides})
