"""Tests for nbsrc.models: shapes, hidden outputs vs. hand computation, ablation, folded affine maps."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from nbsrc.models import ACTIVATIONS, MLP, AffineLayers, activation_fn, check_widths, resolve_device

IN, WIDTHS, C = 12, (9, 7, 5), 4


pytestmark = pytest.mark.usefixtures("one_thread")


def make(activation: str = "relu", batch_norm: bool = False, dropout: float = 0.0, seed: int = 0) -> MLP:
    torch.manual_seed(seed)
    return MLP(IN, WIDTHS, C, activation=activation, dropout=dropout, batch_norm=batch_norm)


def inputs(n: int = 23, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(n, IN, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2


def randomise_bn(model: MLP, seed: int = 2) -> None:
    """Give every BatchNorm1d non-trivial running stats and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in model.norms:
            assert isinstance(norm, nn.BatchNorm1d)
            w = norm.num_features
            norm.running_mean.copy_(torch.randn(w, generator=g))
            norm.running_var.copy_(torch.rand(w, generator=g) * 3 + 0.1)
            norm.weight.copy_(torch.randn(w, generator=g))
            norm.bias.copy_(torch.randn(w, generator=g))


def manual_hidden(model: MLP, x: torch.Tensor, act) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Hidden outputs and logits from the module's own parameters, eval-mode BN done by hand."""
    hidden = []
    h = x
    for linear, norm in zip(model.hidden, model.norms, strict=True):
        z = h @ linear.weight.T + linear.bias
        if isinstance(norm, nn.BatchNorm1d):
            z = (z - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps) * norm.weight + norm.bias
        h = act(z)
        hidden.append(h)
    return hidden, h @ model.out.weight.T + model.out.bias


# ------------------------------------------------------------------------------------- shapes/values


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_shapes_and_ranges(activation):
    model = make(activation)
    x = inputs()
    with torch.no_grad():
        logits, hidden = model(x, return_hidden=True)
        plain = model(x)
    assert logits.shape == (len(x), C)
    assert isinstance(plain, torch.Tensor) and torch.equal(plain, logits)
    assert [tuple(t.shape) for t in hidden] == [(len(x), w) for w in WIDTHS]
    for t in hidden:
        if activation == "relu":
            assert (t >= 0).all() and (t == 0).any()
        elif activation == "sigmoid":
            assert ((t > 0) & (t < 1)).all()
        else:
            assert ((t > -1) & (t < 1)).all() and (t < 0).any()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hidden_outputs_match_manual_computation(activation):
    model = make(activation)
    x = inputs()
    act = {
        "relu": lambda z: z.clamp(min=0),
        "sigmoid": lambda z: 1 / (1 + torch.exp(-z)),
        "tanh": lambda z: (torch.exp(2 * z) - 1) / (torch.exp(2 * z) + 1),
    }[activation]
    with torch.no_grad():
        logits, hidden = model(x, return_hidden=True)
        expected_hidden, expected_logits = manual_hidden(model, x, act)
    for t, e in zip(hidden, expected_hidden, strict=True):
        torch.testing.assert_close(t, e, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batch_norm_eval_matches_manual(activation):
    model = make(activation, batch_norm=True)
    randomise_bn(model)
    model.eval()
    x = inputs()
    with torch.no_grad():
        logits, hidden = model(x, return_hidden=True)
        expected_hidden, expected_logits = manual_hidden(model, x, activation_fn(activation))
    for t, e in zip(hidden, expected_hidden, strict=True):
        torch.testing.assert_close(t, e, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-5)
    # the running stats matter: with default stats the result would differ
    fresh = make(activation, batch_norm=True).eval()
    fresh.load_state_dict({k: v for k, v in model.state_dict().items() if "norms" not in k}, strict=False)
    with torch.no_grad():
        assert not torch.allclose(fresh(x), logits)


def test_dropout_sits_after_the_output_and_is_off_in_eval():
    model = make(dropout=0.5)
    x = inputs()
    with torch.no_grad():
        model.eval()
        logits, hidden = model(x, return_hidden=True)
        expected_hidden, expected_logits = manual_hidden(model, x, torch.relu)
        torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-5)
        model.train()
        torch.manual_seed(0)
        _, hidden_train = model(x, return_hidden=True)
    # hidden outputs are recorded before dropout, so they are unchanged in train mode (no BN)
    torch.testing.assert_close(hidden_train[0], hidden[0])
    torch.testing.assert_close(hidden[0], expected_hidden[0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------ ablation


def test_ablate_zero_and_values():
    model = make("tanh").eval()
    x = inputs()
    mask = torch.tensor([True, False, True, False, False, False, True, False, False])
    with torch.no_grad():
        _, base = model(x, return_hidden=True)
        _, zeroed = model(x, return_hidden=True, ablate=[mask, None, None])
        values = [torch.linspace(-0.5, 0.5, w) for w in WIDTHS]
        _, fixed = model(x, return_hidden=True, ablate=[mask, None, None], values=values)
    assert (zeroed[0][:, mask] == 0).all()
    assert torch.equal(zeroed[0][:, ~mask], base[0][:, ~mask])
    assert torch.equal(fixed[0][:, mask], values[0][mask].expand(len(x), -1))
    assert torch.equal(fixed[0][:, ~mask], base[0][:, ~mask])
    # downstream layers see the ablated values
    expected_next = torch.tanh(model.hidden[1](fixed[0]))
    torch.testing.assert_close(fixed[1], expected_next)
    assert not torch.allclose(fixed[1], base[1])


def test_ablate_middle_layer_only():
    model = make("relu").eval()
    x = inputs()
    mask = torch.zeros(WIDTHS[1], dtype=torch.bool)
    mask[[0, 3]] = True
    values = [torch.zeros(w) for w in WIDTHS]
    values[1][:] = 2.5
    with torch.no_grad():
        logits0, base = model(x, return_hidden=True)
        logits1, abl = model(x, return_hidden=True, ablate=[None, mask, None], values=values)
    assert torch.equal(abl[0], base[0])
    assert (abl[1][:, mask] == 2.5).all()
    assert torch.equal(abl[1][:, ~mask], base[1][:, ~mask])
    # no-op mask changes nothing
    with torch.no_grad():
        logits2 = model(x, ablate=[torch.zeros(w, dtype=torch.bool) for w in WIDTHS])
    assert torch.equal(logits2, logits0)
    assert not torch.equal(logits1, logits0)


# ------------------------------------------------------------------------------------- affine layers


def run_affine(layers: AffineLayers, x: torch.Tensor) -> torch.Tensor:
    act = activation_fn(layers.activation)
    h = x
    for w, b in zip(layers.weights[:-1], layers.biases[:-1], strict=True):
        h = act(h @ w.T + b)
    return h @ layers.weights[-1].T + layers.biases[-1]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_affine_layers_fold_batch_norm_float32(activation):
    model = make(activation, batch_norm=True)
    randomise_bn(model)
    model.eval()
    x = inputs()
    layers = model.affine_layers()
    assert layers.activation == activation
    assert [tuple(w.shape) for w in layers.weights] == [(9, IN), (7, 9), (5, 7), (C, 5)]
    assert [tuple(b.shape) for b in layers.biases] == [(9,), (7,), (5,), (C,)]
    assert all(w.dtype == torch.float32 for w in (*layers.weights, *layers.biases))
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(run_affine(layers, x), expected, rtol=0, atol=1e-5)
    # the returned tensors are copies: editing them leaves the model alone
    layers.weights[0].zero_()
    with torch.no_grad():
        assert torch.equal(model(x), expected)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_affine_layers_fold_batch_norm_float64(activation):
    model = make(activation, batch_norm=True)
    randomise_bn(model)
    model = model.double().eval()
    x = inputs(dtype=torch.float64)
    layers = model.affine_layers(torch.float64)
    assert all(w.dtype == torch.float64 for w in (*layers.weights, *layers.biases))
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(run_affine(layers, x), expected, rtol=0, atol=1e-12)


def test_affine_layers_without_batch_norm_are_the_linear_weights():
    model = make("sigmoid")
    layers = model.affine_layers()
    linears = [*model.hidden, model.out]
    for w, b, lin in zip(layers.weights, layers.biases, linears, strict=True):
        assert torch.equal(w, lin.weight) and torch.equal(b, lin.bias)
        assert not w.requires_grad


# -------------------------------------------------------------------------------------- hidden_outputs


@pytest.mark.parametrize("training", [True, False])
def test_hidden_outputs_batched_equals_one_pass(training):
    model = make("relu", batch_norm=True, dropout=0.3)
    randomise_bn(model)
    model.train(training)
    x = inputs(n=30)
    outs = model.hidden_outputs(x, batch_size=7)
    assert model.training is training
    model.eval()
    with torch.no_grad():
        _, expected = model(x, return_hidden=True)
    assert len(outs) == len(WIDTHS)
    for t, e in zip(outs, expected, strict=True):
        assert t.shape == e.shape
        torch.testing.assert_close(t, e, rtol=1e-6, atol=1e-6)
        assert not t.requires_grad


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("widths", "fragment"),
    [
        ((), "invalid widths=()"),
        ((0,), "invalid widths=(0,)"),
        ((-3, 4), "invalid widths=(-3, 4)"),
        ((2.5,), "invalid widths=(2.5,)"),
        (5, "invalid widths=5"),
        ((True, 3), "invalid widths"),
    ],
)
def test_bad_widths(widths, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        MLP(IN, widths)
    with pytest.raises(ValueError, match="widths"):
        check_widths(widths)


def test_check_widths_accepts_lists():
    assert check_widths([4, 3]) == (4, 3)


def test_bad_activation_lists_choices():
    with pytest.raises(ValueError) as info:
        MLP(IN, (4,), activation="gelu")
    msg = str(info.value)
    for frag in ("activation", "'gelu'", "'relu'", "'sigmoid'", "'tanh'"):
        assert frag in msg, msg


@pytest.mark.parametrize("dropout", [1.0, -0.1, 1.5])
def test_bad_dropout(dropout):
    with pytest.raises(ValueError, match=re.escape(f"invalid dropout={dropout!r}")):
        MLP(IN, (4,), dropout=dropout)


@pytest.mark.parametrize("n_classes", [1, 0])
def test_bad_n_classes(n_classes):
    with pytest.raises(ValueError, match=re.escape(f"invalid n_classes={n_classes}")):
        MLP(IN, (4,), n_classes=n_classes)


def test_bad_in_features():
    with pytest.raises(ValueError, match="in_features"):
        MLP(0, (4,))


# --------------------------------------------------------------------------------------------- device


def test_resolve_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
