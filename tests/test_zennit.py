"""Our LRP against zennit's on the same compact network and composite.

zennit imports torchvision, which does not load beside the CPU torch that CI
installs; this test then skips. To run it, make a separate environment:
``pip install torch==2.14.1 torchvision==0.29.1 zennit`` and this package.
"""

import numpy as np
import pytest
import torch
from torch import nn

try:
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonPlus
except Exception as err:  # noqa: BLE001 - torchvision fails with RuntimeError, not ImportError
    pytest.skip(f"zennit cannot be imported here ({type(err).__name__})", allow_module_level=True)

import neurolrp
from neurolrp.lrp import AlphaBeta, Composite, Epsilon, ZPlus, prepare_model
from neurolrp.lrp.composites import CONV, DENSE, POOL
from neurolrp.models import EEGNet


def dense_net(n_channels, n_times, n_classes, sfreq):
    """A plain fully connected ReLU network (no square/log, which zennit would
    differentiate while our engine passes relevance through them)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_channels * n_times, 32), nn.ReLU(),
                         nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, n_classes))

# zennit's composites by layer type only (no first/last overrides); its
# pooling rule (Norm) is LRP-epsilon with a 1e-6 stabiliser
OURS = {
    "epsilon-plus": (EpsilonPlus, lambda: Composite(
        {CONV: ZPlus(), DENSE: Epsilon(), POOL: Epsilon()}, name="zennit-epsilon-plus")),
    "alpha2-beta1": (EpsilonAlpha2Beta1, lambda: Composite(
        {CONV: AlphaBeta(2, 1), DENSE: Epsilon(), POOL: Epsilon()}, name="zennit-alpha2-beta1")),
}


@pytest.mark.parametrize("name", sorted(OURS))
@pytest.mark.parametrize("model", [EEGNet, dense_net])
def test_relevance_equals_zennit(name, model):
    torch.manual_seed(0)
    net, _ = prepare_model(model(8, 128, 2, 128.0))  # batch norm folded for both
    X = np.random.default_rng(0).standard_normal((6, 8, 128)).astype(np.float32)
    zennit_composite, ours = OURS[name]
    rel = neurolrp.explain(net, X, composite=ours(), target=0, verbose=False)
    x = torch.from_numpy(X).requires_grad_(True)
    with torch.no_grad():
        out = net(x)
    e = torch.zeros_like(out)
    e[:, 0] = 1
    with Gradient(model=net, composite=zennit_composite()) as attributor:
        _, R = attributor(x, out * e)
    np.testing.assert_allclose(rel.values, R.detach().numpy(), rtol=1e-4,
                               atol=1e-5 * np.abs(R.detach().numpy()).max())
