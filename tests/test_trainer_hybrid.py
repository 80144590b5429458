"""The hybrid trainer: FQT for the top layers, ZO below them, in one step; the same bytes on the
board and on CPython, and no allocation per step on the board."""

import pytest

from mcutrain import model as model_module
from mcutrain.trainer import Trainer
from test_trainer import TINY, assert_allocates_nothing, assert_trains_alike, corrupted_samples

SETTINGS = {
    "fqt-top-wp-below": "method=hybrid,layers=0/2/4/6,mode=wp,queries=2,lr=0.003,zo_lr=0.03",
    "fqt-top-np-below": "method=hybrid,layers=4/6,fqt_layers=1,mode=np,queries=3,lr=0.003,lmin=0.2,lmax=0.6",
}


@pytest.mark.parametrize("name", SETTINGS)
def test_board_and_host_train_to_the_same_bytes(board, tmp_path, name):
    assert_trains_alike(board, tmp_path, TINY, SETTINGS[name])


@pytest.mark.parametrize("name", SETTINGS)
def test_a_step_allocates_nothing_on_the_board(board, tmp_path, name):
    assert_allocates_nothing(board, tmp_path, TINY, SETTINGS[name])


def test_the_top_layers_train_by_fqt_and_the_rest_by_zo():
    t = Trainer(model_module.load(str(TINY)), method="hybrid", mode="np", layers=[2, 4, 6])
    assert t.stats()["layers"] == [(2, "np"), (4, "fqt"), (6, "fqt")]
    t.set(fqt_layers=1)
    assert t.stats()["layers"] == [(2, "np"), (4, "np"), (6, "fqt")]
    with pytest.raises(ValueError, match="more trainable layers"):
        t.set(fqt_layers=3)
    assert t.fqt_layers == 1  # the old settings stay


def test_zo_lr_sets_the_rate_of_the_layers_below_fqt(tmp_path):
    corrupted_samples(tmp_path / "samples.bin", 4)
    data = (tmp_path / "samples.bin").read_bytes()
    size = model_module.load(str(TINY)).input_size
    x, y = data[:4 * size], data[4 * size:]

    def after_a_step(**rates):
        m = model_module.load(str(TINY))
        Trainer(m, method="hybrid", mode="np", layers=[2, 4, 6], batch=4, lr=0.003, **rates).step(x, y)
        return [bytes(m.layers[i].weight) for i in (2, 4, 6)]

    default, same, faster = after_a_step(), after_a_step(zo_lr=0.003), after_a_step(zo_lr=0.3)
    assert default == same, "zo_lr defaults to lr"
    assert faster[1:] == default[1:], "FQT's layers train at lr"
    assert faster[0] != default[0], "the ZO layer trains at zo_lr"


@pytest.mark.parametrize("settings", [dict(method="fqt", zo_lr=0.1), dict(method="zo", zo_lr=0.1),
                                      dict(method="hybrid", zo_lr=0.0)])
def test_zo_lr_is_a_positive_rate_of_the_hybrid(settings):
    with pytest.raises(ValueError, match="zo_lr"):
        Trainer(model_module.load(str(TINY)), layers=[2, 4, 6], **settings)
