"""Fully connected classifiers whose hidden-layer outputs can be read and ablated.

A hidden layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; its *output* T (the
quantity every measure is computed on) is taken after the activation, before dropout.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nbsrc.checks import check_choice, check_int, fail

ACTIVATIONS = ("relu", "sigmoid", "tanh")
_ACTIVATION_FN = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
_ACTIVATION_FN_INPLACE = {"relu": torch.relu_, "sigmoid": torch.sigmoid_, "tanh": torch.tanh_}
#: The Lipschitz constant of each activation: sup |act'| (1 for ReLU and tanh, 1/4 for the sigmoid).
ACTIVATION_LIPSCHITZ = {"relu": 1.0, "sigmoid": 0.25, "tanh": 1.0}


def activation_fn(name: str, inplace: bool = False):
    """The elementwise torch function for an activation name (its in-place form when ``inplace``)."""
    functions = _ACTIVATION_FN_INPLACE if inplace else _ACTIVATION_FN
    return functions[check_choice("activation", name, ACTIVATIONS)]


def check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """Validate hidden widths: a non-empty sequence of positive ints."""
    if isinstance(widths, int | str) or len(widths) == 0:
        fail("widths", widths, "expected a non-empty sequence of positive integers, e.g. (512, 256, 128)")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w <= 0:
            fail("widths", tuple(widths), "every width must be a positive integer")
    return tuple(int(w) for w in widths)


@dataclass(frozen=True)
class AffineLayers:
    """The network in eval mode as plain affine maps (batch norm folded in).

    ``weights[l]``/``biases[l]`` map layer l's input to its pre-activation z_l; the last pair is the
    output layer. Hidden outputs are T_l = act(z_l).
    """

    weights: tuple[Tensor, ...]
    biases: tuple[Tensor, ...]
    activation: str


class MLP(nn.Module):
    """A fully connected classifier with configurable hidden widths and regularisers."""

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        n_classes: int = 10,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        widths = check_widths(widths)
        check_choice("activation", activation, ACTIVATIONS)
        if not 0.0 <= dropout < 1.0:
            fail("dropout", dropout, "must lie in [0, 1)")
        check_int("in_features", in_features, 1)
        check_int("n_classes", n_classes, 2)
        self.widths = widths
        self.activation = activation
        self.act = activation_fn(activation)
        sizes = (in_features, *widths)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.norms = nn.ModuleList(nn.BatchNorm1d(w) if batch_norm else nn.Identity() for w in widths)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(widths[-1], n_classes)

    def forward(
        self,
        x: Tensor,
        return_hidden: bool = False,
        ablate: Sequence[Tensor | None] | None = None,
        values: Sequence[Tensor] | None = None,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits (and every hidden output T_l when ``return_hidden``).

        ``ablate[l]`` is an optional boolean mask over layer l's neurons; masked outputs are fixed to
        ``values[l]`` (zeros when ``values`` is None) for every input.
        """
        hidden = []
        h = x
        for layer, (linear, norm) in enumerate(zip(self.hidden, self.norms, strict=True)):
            t = self.act(norm(linear(h)))
            if ablate is not None and ablate[layer] is not None:
                fixed = torch.zeros_like(t[0]) if values is None else values[layer].to(t)
                t = torch.where(ablate[layer], fixed, t)
            hidden.append(t)
            h = self.drop(t)
        logits = self.out(h)
        return (logits, hidden) if return_hidden else logits

    @torch.no_grad()
    def hidden_outputs(self, x: Tensor, batch_size: int = 8192) -> list[Tensor]:
        """Every hidden layer's outputs on ``x`` in eval mode, as [N, width] tensors."""
        was_training = self.training
        self.eval()
        chunks = [self(x[i : i + batch_size], return_hidden=True)[1] for i in range(0, len(x), batch_size)]
        self.train(was_training)
        return [torch.cat(parts) for parts in zip(*chunks, strict=True)]

    @torch.no_grad()
    def affine_layers(self, dtype: torch.dtype | None = None) -> AffineLayers:
        """Eval-mode affine maps with batch norm folded in: BN(Wx+b) = (sW)x + s(b-mu)+beta."""
        dtype = dtype or self.out.weight.dtype

        def cast(t: Tensor) -> Tensor:
            return t.detach().to(dtype).clone()

        weights, biases = [], []
        for linear, norm in zip(self.hidden, self.norms, strict=True):
            w, b = cast(linear.weight), cast(linear.bias)
            if isinstance(norm, nn.BatchNorm1d):
                scale = cast(norm.weight) / torch.sqrt(cast(norm.running_var) + norm.eps)
                w, b = w * scale[:, None], (b - cast(norm.running_mean)) * scale + cast(norm.bias)
            weights.append(w)
            biases.append(b)
        weights.append(cast(self.out.weight))
        biases.append(cast(self.out.bias))
        return AffineLayers(tuple(weights), tuple(biases), self.activation)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to compute on: the given one, else CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
