"""CelebA from a tiny generated folder in torchvision's layout."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.data import DataConfig, DataError, FileImageSet, iterate_batches, load_data
from core.data.celeba import CCVAE_ATTRIBUTES
from core.labels import BINARY

ALL_40 = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
          "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair "
          "Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face "
          "Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair "
          "Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
PARTITION = [0] * 8 + [1] * 2 + [2] * 2


def make_celeba(data_dir: Path, n=12, seed=0):
    """Writes n 40x30 jpgs (green centre, red 5-pixel side bands) and the two text files; returns +-1 values."""
    root = data_dir / "celeba"
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :, 1] = 255
    pixels[:, :5] = pixels[:, 35:] = (255, 0, 0)
    values = np.random.default_rng(seed).choice([-1, 1], size=(n, 40))
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name in names:
        Image.fromarray(pixels).save(images / name, quality=100, subsampling=0)  # 4:4:4: no colour bleeding
    lines = [str(n), " ".join(ALL_40)]
    lines += [name + " " + " ".join(f"{v:2d}" for v in row) for name, row in zip(names, values)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{nm} {p}\n" for nm, p in zip(names, PARTITION)))
    return root, names, values


def test_celeba_loads_lazily_with_the_18_attributes(tmp_path):
    root, names, values = make_celeba(tmp_path)
    s = load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path), sup_frac=0.5, seed=0))
    assert s.label_spec.kind == BINARY and s.label_spec.names == CCVAE_ATTRIBUTES
    assert len(CCVAE_ATTRIBUTES) == 18
    assert (len(s.train), len(s.val), len(s.test)) == (8, 2, 2)  # the official partition
    assert isinstance(s.train, FileImageSet) and not s.train.in_memory
    assert s.train.paths.dtype.kind == "U" and not hasattr(s.train, "images")
    assert s.image_shape == (3, 64, 64)
    assert [Path(p).name for p in s.val.paths] == names[8:10]
    assert [Path(p).name for p in s.test.paths] == names[10:]

    columns = [ALL_40.index(a) for a in CCVAE_ATTRIBUTES]
    expected = torch.tensor((values[:, columns] == 1).astype(np.float32))
    assert s.train.labels.dtype == torch.float32 and torch.equal(s.train.labels, expected[:8])
    assert torch.equal(s.test.labels, expected[10:])

    image, label = s.train[3]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and label.shape == (18,)
    # centre crop: the red side bands are cut away before resizing, so the image is green throughout
    assert image[0].max() < 0.15 and image[1].min() > 0.85
    assert len(s.labelled) == 4 and s.label_prior.shape == (18,)
    assert s.label_prior.min() >= 1e-3 and s.label_prior.max() <= 1 - 1e-3


def test_celeba_batches_through_dataloader_workers(tmp_path):
    make_celeba(tmp_path)
    s = load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path / "celeba")))  # the inner folder works too
    gen = torch.Generator().manual_seed(0)
    batches = list(iterate_batches(s.train, np.arange(8), 3, shuffle=True, generator=gen, num_workers=1))
    assert [b[0].shape for b in batches] == [(3, 3, 64, 64), (3, 3, 64, 64), (2, 3, 64, 64)]
    order = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([y for _, y in batches]), s.train.labels[order])
    images, labels = s.train.get_batch([0, 5])
    assert images.shape == (2, 3, 64, 64) and labels.shape == (2, 18)


def test_celeba_missing_pieces(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="list_attr_celeba.txt"):
        load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path / "empty")))
    root, names, _ = make_celeba(tmp_path / "a")
    (root / "img_align_celeba" / names[4]).unlink()
    with pytest.raises(DataError, match=names[4]):
        load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path / "a")))
    with pytest.raises(DataError, match="celeba"):
        load_data(DataConfig(dataset="celeba"))


def test_celeba_undecodable_image_named_when_loaded(tmp_path):
    root, names, _ = make_celeba(tmp_path)
    (root / "img_align_celeba" / names[0]).write_bytes(b"not a jpeg")
    s = load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path)))
    with pytest.raises(DataError, match=names[0]):
        s.train[0]


def test_celeba_bad_attribute_line_is_named(tmp_path):
    root, names, _ = make_celeba(tmp_path)
    attr = root / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    lines[4] = lines[4].replace(" 1", " 7", 1)
    attr.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 5 attribute .* is '7'"):
        load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path)))
    lines[4] = names[2]
    attr.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 5 has 0 values"):
        load_data(DataConfig(dataset="celeba", data_dir=str(tmp_path)))
