"""The hybrid trainer: FQT for the top layers, ZO below them, in one step; the same bytes on the
board and on CPython, and no allocation per step on the board."""

import pytest

from mcutrain import model as model_module
from mcutrain.trainer import Trainer
from test_trainer import TINY, assert_allocates_nothing, assert_trains_alike

SETTINGS = {
    "fqt-top-wp-below": "method=hybrid,layers=0/2/4/6,mode=wp,queries=2,lr=0.003",
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
