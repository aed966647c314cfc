import pytest
import torch

from neurolrp.models import EEGNet, MODELS, ShallowNet, SturmDNN, make_model, n_parameters


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("n_channels,n_times,sfreq", [(64, 401, 80.0), (64, 656, 160.0),
                                                      (8, 50, 100.0)])
def test_models_take_the_data_they_are_given(name, n_channels, n_times, sfreq):
    model = make_model(name, n_channels, n_times, 3, sfreq).eval()
    out = model(torch.randn(5, n_channels, n_times))
    assert out.shape == (5, 3)
    assert torch.isfinite(out).all()


def test_documented_sizes():
    # the sizes quoted in the docstrings (64 channels, 4.1 s epoch at 80 Hz)
    assert n_parameters(ShallowNet(64, 329, 2, 80.0)) == 16914
    assert n_parameters(EEGNet(64, 329, 2, 80.0)) == 2162
    assert n_parameters(SturmDNN(64, 329, 2, 80.0)) == 1090


def test_too_short_is_a_clear_error():
    with pytest.raises(ValueError, match=r"ShallowNet needs at least .* samples"):
        ShallowNet(64, 10, 2, 100.0)
    with pytest.raises(ValueError, match="EEGNet needs at least 32 samples"):
        EEGNet(64, 20, 2, 100.0)
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        SturmDNN(64, 100, 1, 100.0)
    with pytest.raises(ValueError, match="sfreq"):
        ShallowNet(64, 100, 2, 0)
    with pytest.raises(ValueError, match="model must be one of"):
        make_model("resnet", 64, 100, 2, 100.0)


def test_eegnet_max_norm_leaves_plain_weights():
    net = EEGNet(16, 128, 2, 128.0)
    with torch.no_grad():
        net[3].weight.mul_(100)
        net[15].weight.mul_(100)
    net.apply_constraints()
    for idx, limit in net.max_norms.items():
        w = net[idx].weight
        assert type(w) is torch.nn.Parameter  # no parametrization
        norms = w.view(w.shape[0], -1).norm(dim=1)
        assert torch.all(norms <= limit + 1e-5)
        assert torch.allclose(norms.max(), torch.tensor(limit), atol=1e-5)
    assert not hasattr(net[3], "parametrizations")
