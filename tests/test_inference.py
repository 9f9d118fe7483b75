"""The inference engine's interventions on small untrained models: formulas, shapes and what stays fixed."""
import torch

from core.config import ModelConfig, RunConfig
from core.inference import Engine
from core.labels import BINARY, LabelSpec
from core.model import CCVAE


def engine(spec=None, latent=6) -> Engine:
    torch.manual_seed(0)
    cfg = RunConfig(model=ModelConfig(label_spec=spec or LabelSpec("multiclass", tuple("abc")), latent_dim=latent))
    return Engine(CCVAE(cfg.model), cfg)


def test_swap_keeps_the_place_in_the_class():
    e = engine()
    loc, scale = e.prior(torch.tensor([0, 2]))
    z_c = loc[0] + 0.5 * scale[0]  # half a scale above the class-0 mean
    swapped = e.swap_label(z_c[None], 0, 2)[0]
    torch.testing.assert_close(swapped, loc[1] + 0.5 * scale[1])


def test_interpolation_modes_hold_the_other_block():
    e = engine()
    a, b = (torch.zeros(3), torch.zeros(3)), (torch.ones(3), torch.ones(3))
    z_c, z_s = e.interpolate(a, b, steps=5, mode="zc")
    assert z_c[-1].eq(1).all() and z_s.eq(0).all()
    z_c, z_s = e.interpolate(a, b, steps=5, mode="style")
    assert z_c.eq(0).all() and z_s[-1].eq(1).all()


def test_binary_walk_runs_outward_past_both_modes_either_way_they_lie():
    e = engine(LabelSpec(BINARY, ("p", "q")))
    with torch.no_grad():
        e.model.head.loc_true[1] = -2.0  # attribute q's "on" mode below its "off" mode (-1)
    walk = e.latent_walk(torch.zeros(2), 0, steps=3)[:, 0]
    assert walk[0] < -1 < 1 < walk[-1]
    walk = e.latent_walk(torch.zeros(2), 1, steps=3)[:, 1]
    assert walk[0] > -1 and walk[-1] < -2
    assert e.latent_walk(torch.zeros(2), 1, steps=3)[:, 0].eq(0).all()  # the other dimension stays


def test_flip_attribute_moves_only_that_attribute():
    e = engine(LabelSpec(BINARY, ("p", "q", "r")))
    z_c = torch.tensor([[2.0, -2.0, 2.0]])
    flipped = e.flip_attribute(z_c, 1)
    assert flipped[0, 0] == z_c[0, 0] and flipped[0, 2] == z_c[0, 2] and flipped[0, 1] != z_c[0, 1]
