"""The built-in heads' padding-mask argument: `padding_mask` ("mask" names the pruning masks alone);
a caller passing the former keyword `mask=` gets the same result and one deprecation warning."""
from __future__ import annotations

import warnings

import pytest
import torch

from sparse_sharing.components.heads.crf import CRFHead, CRFHeadConfig
from sparse_sharing.components.heads.decoding import per_sentence
from sparse_sharing.components.heads.softmax import SoftmaxHead, SoftmaxHeadConfig
from sparse_sharing.registry import PluginDeprecationWarning

LABELS = ["O", "B-X", "I-X"]


@pytest.mark.parametrize("head", [CRFHead(CRFHeadConfig(type="crf"), input_dim=4, labels=LABELS, tag_scheme="BIO"),
                                  SoftmaxHead(SoftmaxHeadConfig(type="softmax"), input_dim=4, labels=LABELS,
                                              tag_scheme="BIO")], ids=["crf", "softmax"])
def test_the_former_keyword_mask_still_works_with_one_warning(head: torch.nn.Module) -> None:
    torch.manual_seed(0)
    features, tags = torch.randn(2, 5, 4), torch.randint(0, 3, (2, 5))
    padding_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    expected = {"loss": head.loss(features, tags, padding_mask), "decode": head.decode(features, padding_mask),
                "best_tags": head.best_tags(features, padding_mask)}
    for method, value in expected.items():
        args = (features, tags) if method == "loss" else (features,)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            renamed = getattr(head, method)(*args, padding_mask=padding_mask)
            former = getattr(head, method)(*args, mask=padding_mask)
        assert [w.category for w in caught] == [PluginDeprecationWarning]
        assert f"{method}: the argument `mask` is now `padding_mask`" in str(caught[0].message)
        for result in (renamed, former):
            assert torch.equal(result, value) if isinstance(value, torch.Tensor) else result == value
    assert expected["decode"] == per_sentence(expected["best_tags"], padding_mask)
    assert [len(tags) for tags in expected["decode"]] == [5, 3]
