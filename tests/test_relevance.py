import numpy as np
import pytest
import xarray as xr

from neurolrp.relevance import (channel_positions, load_relevance, make_relevance,
                                save_relevance, to_info, validate_relevance)


def _rel(with_labels=True, with_pos=True):
    rng = np.random.default_rng(0)
    from neurolrp.datasets import standard_montage
    import mne

    ch = ["C3", "Cz", "C4"]
    info = mne.create_info(ch, 100.0, "eeg")
    info.set_montage(standard_montage())
    return make_relevance(
        rng.standard_normal((4, 3, 5)),
        channels=ch, times=np.arange(5) / 100.0,
        y_pred=["a", "b", "a", "b"], target=["a", "b", "a", "b"], score=[1.0, 2.0, 3.0, 4.0],
        y_true=["a", "a", "a", "b"] if with_labels else None,
        ch_pos=channel_positions(info) if with_pos else None,
        conservation=[0, 1e-6, 0, 0],
        attrs={"method": "lrp", "composite": "epsilon", "rules": '{"Linear": "epsilon"}',
               "classes": ["a", "b"], "sfreq": 100.0, "conservation_error": 1e-6},
    )


def test_make_relevance_follows_the_convention():
    rel = _rel()
    assert rel.name == "relevance" and rel.dims == ("trial", "channel", "time")
    assert rel.dtype == np.float32
    assert rel.correct.values.tolist() == [True, False, True, True]
    mis = rel.sel(trial=~rel.correct)
    assert mis.trial.values.tolist() == [1] and mis.y_true.item() == "a"
    assert rel.attrs["neurolrp_version"]
    assert np.isfinite(rel.ch_x.values).all()


def test_round_trip_is_exact(tmp_path):
    for rel in (_rel(), _rel(with_labels=False, with_pos=False)):
        f = save_relevance(rel, tmp_path / "rel.nc")
        back = load_relevance(f)
        xr.testing.assert_identical(back, rel)
        assert back.dtype == np.float32 and back.correct.dtype == bool if "correct" in rel.coords else True
        assert back.attrs == rel.attrs
        f.unlink()


def test_round_trip_of_a_selection(tmp_path):
    rel = _rel().sel(trial=~_rel().correct)
    back = load_relevance(save_relevance(rel, tmp_path / "mis.nc"))
    xr.testing.assert_identical(back, rel)


def test_validation_errors():
    rel = _rel()
    with pytest.raises(TypeError):
        validate_relevance(rel.values)
    with pytest.raises(ValueError, match="named"):
        validate_relevance(rel.rename("x"))
    with pytest.raises(ValueError, match="dims"):
        validate_relevance(rel.transpose("channel", "trial", "time"))
    with pytest.raises(ValueError, match="float32"):
        validate_relevance(rel.astype(np.float64))
    with pytest.raises(ValueError, match="lacks coordinate"):
        validate_relevance(rel.drop_vars("score"))
    with pytest.raises(ValueError, match="go together"):
        validate_relevance(rel.drop_vars("correct"))
    bad = rel.copy()
    bad["correct"] = ("trial", np.ones(4, bool))
    with pytest.raises(ValueError, match="y_true == y_pred"):
        validate_relevance(bad)
    bad = rel.copy()
    bad.attrs["rules"] = {"Linear": "epsilon"}
    with pytest.raises(ValueError, match="JSON"):
        validate_relevance(bad)
    bad = rel.copy()
    del bad.attrs["method"]
    with pytest.raises(ValueError, match="lacks attr"):
        validate_relevance(bad)
    bad = rel.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        validate_relevance(bad)
    with pytest.raises(FileNotFoundError):
        load_relevance("does-not-exist.nc")


def test_to_info_rebuilds_positions():
    rel = _rel()
    info = to_info(rel)
    assert info.ch_names == ["C3", "Cz", "C4"] and info["sfreq"] == 100
    np.testing.assert_allclose(channel_positions(info),
                               np.column_stack([rel.ch_x, rel.ch_y, rel.ch_z]))
    with pytest.raises(ValueError, match="no scalp positions"):
        to_info(_rel(with_pos=False))
