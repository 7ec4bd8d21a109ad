"""The fast paths compute what the paths they replace computed: padded BiLSTM = packed BiLSTM
(outputs and gradients, dense and under sparse masks), cheap dropout = nn.Dropout's distribution,
per-spelling char CNN = per-token char CNN, float mask multipliers = the bool masks."""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from sparse_sharing.components.dropout import Dropout
from sparse_sharing.components.encoders.bilstm import BiLSTMConfig, BiLSTMEncoder
from sparse_sharing.components.masks.mask_set import MaskSet
from sparse_sharing.registry import import_plugins
from tiny_trunks import strategy

LENGTHS = torch.tensor([7, 2, 5, 1, 7, 4])


def _encoders(num_layers: int) -> tuple[BiLSTMEncoder, BiLSTMEncoder]:
    torch.manual_seed(0)
    padded = BiLSTMEncoder(BiLSTMConfig(type="bilstm", hidden_size=6, num_layers=num_layers, dropout=0.0,
                                        implementation="padded"), input_dim=5)
    packed = BiLSTMEncoder(BiLSTMConfig(type="bilstm", hidden_size=6, num_layers=num_layers, dropout=0.0,
                                        implementation="packed"), input_dim=5)
    packed.load_state_dict(padded.state_dict())
    return padded, packed


def _padded_input() -> torch.Tensor:
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), 5, generator=torch.Generator().manual_seed(1))
    real = torch.arange(x.shape[1]) < LENGTHS.unsqueeze(1)
    return x * real.unsqueeze(2)


def _outputs_and_gradients(encoder: BiLSTMEncoder, x: torch.Tensor, weights: dict | None = None):
    x = x.clone().requires_grad_()
    params = dict(encoder.named_parameters())
    if weights is None:
        out = encoder(x, LENGTHS)
        leaves = list(params.values())
    else:
        out = functional_call(encoder, {n: w * weights[n] for n, w in params.items() if n in weights}, (x, LENGTHS))
        leaves = list(params.values())
    probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    grads = torch.autograd.grad((out * probe).sum(), [x, *leaves])
    return out, grads


@pytest.mark.parametrize("num_layers", [1, 2])
def test_padded_bilstm_equals_packed_at_every_real_token(num_layers: int) -> None:
    padded, packed = _encoders(num_layers)
    x = _padded_input()
    (out_a, grads_a), (out_b, grads_b) = _outputs_and_gradients(padded, x), _outputs_and_gradients(packed, x)
    real = torch.arange(x.shape[1]) < LENGTHS.unsqueeze(1)
    assert torch.allclose(out_a[real], out_b[real], atol=1e-5)
    assert torch.equal(out_a[~real], torch.zeros_like(out_a[~real]))  # padding is zero, as packed gives
    for a, b in zip(grads_a, grads_b):
        assert torch.allclose(a, b, atol=1e-5)


def test_padded_bilstm_equals_packed_under_sparse_masks() -> None:
    padded, packed = _encoders(1)
    generator = torch.Generator().manual_seed(3)
    masks = {n: (torch.rand(p.shape, generator=generator) > 0.5).float()
             for n, p in padded.named_parameters() if n.split(".")[-1].startswith("weight")}
    x = _padded_input()
    (out_a, grads_a), (out_b, grads_b) = (_outputs_and_gradients(padded, x, masks),
                                          _outputs_and_gradients(packed, x, masks))
    real = torch.arange(x.shape[1]) < LENGTHS.unsqueeze(1)
    assert torch.allclose(out_a[real], out_b[real], atol=1e-5)
    names = ["x", *(n for n, _ in padded.named_parameters())]
    for name, a, b in zip(names, grads_a, grads_b):
        assert torch.allclose(a, b, atol=1e-5), name
        if name in masks:  # autograd keeps the update inside the mask on both paths
            assert torch.equal(a[masks[name] == 0], torch.zeros_like(a[masks[name] == 0]))


def test_auto_picks_the_padded_path_on_cpu() -> None:
    encoder = BiLSTMEncoder(BiLSTMConfig(type="bilstm", hidden_size=4), input_dim=3)
    assert encoder._padded(torch.device("cpu"))
    assert not BiLSTMEncoder(BiLSTMConfig(type="bilstm", hidden_size=4, implementation="packed"),
                             input_dim=3)._padded(torch.device("cpu"))


def test_dropout_keeps_one_minus_p_and_scales() -> None:
    torch.manual_seed(0)
    dropout = Dropout(0.3)
    x = torch.ones(200_000, requires_grad=True)
    y = dropout(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.equal(grad, y.detach())  # the gradient passes through the same mask and scale
    dropout.eval()
    assert dropout(x) is x
    assert Dropout(0.0)(x) is x
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_char_cnn_per_spelling_equals_per_token() -> None:
    import_plugins(())
    from sparse_sharing.components.data.batching import IndexedDataset
    from sparse_sharing.components.embedders.char_cnn import CharCNN, CharCNNConfig
    from tiny_trunks import VOCAB

    torch.manual_seed(0)
    embedder = CharCNN(CharCNNConfig(type="char_cnn", char_dim=4, num_filters=5, dropout=0.5), VOCAB).eval()
    spellings = [[2, 3], [4, 5, 6, 7], [2, 3], [8]]  # a spelling repeated within and across sentences
    b = IndexedDataset([[2, 3, 2], [4, 2]], [[spellings[0], spellings[1], spellings[2]], [spellings[3], spellings[0]]],
                       None).batch([0, 1])
    assert b.spellings[0, 0] == b.spellings[0, 2] == b.spellings[1, 1]
    n, t, c = b.chars.shape
    expected = embedder._encode(b.chars.view(n * t, c)).view(n, t, -1)
    assert torch.allclose(embedder(b), expected, atol=1e-6)
    b.spellings = None  # a batch built elsewhere, without spelling ids, takes the per-token path
    assert torch.allclose(embedder(b), expected, atol=1e-6)


def test_mask_multipliers_follow_set_masks_and_load_state_dict() -> None:
    import_plugins(())
    tasks = ["pos", "ner"]
    source = strategy("sparse", tasks)
    generator = torch.Generator().manual_seed(4)
    shapes = source.mask_shapes()
    masks = MaskSet({t: {n: torch.rand(s, generator=generator) > 0.5 for n, s in shapes.items()} for t in tasks})
    source.set_masks(masks)
    target = strategy("sparse", tasks)
    target.load_state_dict(source.state_dict())
    for sharing in (source, target):
        for task in tasks:
            for name in shapes:
                assert torch.equal(sharing.masks[task].multiplier(name), masks[task][name].float())
    assert not any("multiplier" in key for key in source.state_dict())  # checkpoints hold bool masks only
