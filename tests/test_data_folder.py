"""A user's image folder with a CSV of labels (multi-class or binary attributes)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, features

from core.data import DataConfig, DataError, FileImageSet, iterate_batches, load_data
from core.labels import BINARY, MULTICLASS


def write_images(folder: Path, n: int, mode="RGB", size=(20, 12)) -> list[str]:
    """n small images under folder/img/, pixel value 10 * i; returns their paths relative to folder."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        name = f"img/{i:02d}.png"
        Image.new(mode, size, color=(10 * i,) * len(mode) if mode != "L" else 10 * i).save(folder / name)
        names.append(name)
    return names


def write_csv(folder: Path, header: str, rows: list[str], name="labels.csv") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_folder_multiclass(tmp_path):
    names = write_images(tmp_path, 20)
    classes = ["10", "2", "cat", "1"]
    write_csv(tmp_path, "file,kind", [f"{nm},{classes[i % 4]}" for i, nm in enumerate(names)])
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), seed=0))
    assert s.label_spec.kind == MULTICLASS and s.label_spec.names == ("1", "2", "10", "cat")  # numeric-aware
    assert (len(s.train), len(s.val), len(s.test)) == (16, 2, 2)
    assert isinstance(s.train, FileImageSet) and not s.train.in_memory
    assert s.image_shape == (3, 64, 64)  # colour images: RGB at 64x64 by default
    image, label = s.test[0]
    assert image.shape == (3, 64, 64) and label.dtype == torch.int64
    # each image's label follows its file: image i has pixel value 10 * i and class classes[i % 4]
    i = int(Path(s.test.paths[0]).stem)
    assert torch.allclose(image, torch.full_like(image, 10 * i / 255), atol=1e-6)
    assert s.label_spec.names[int(label)] == classes[i % 4]
    all_paths = np.concatenate([s.train.paths, s.val.paths, s.test.paths])
    assert len(set(all_paths)) == 20
    other = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), seed=1))
    assert set(other.test.paths) != set(s.test.paths)  # the folder split follows cfg.seed


def test_folder_binary_resize_and_channels(tmp_path):
    names = write_images(tmp_path, 6, mode="L", size=(9, 7))
    values = ["1,-1,true", "-1,1,false", "1,1,TRUE", "-1,-1,False", "1,-1,0", "-1,1,1"]
    csv_path = write_csv(tmp_path, "path,Smiling,Male,Young", [f"{nm},{v}" for nm, v in zip(names, values)],
                         name="attrs.csv")
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), labels_csv=str(csv_path), image_size=32,
                             num_labels=2))
    assert s.label_spec.kind == BINARY and s.label_spec.names == ("Smiling", "Male", "Young")
    assert s.image_shape == (1, 32, 32)
    image, label = s.train[0]
    assert image.shape == (1, 32, 32) and label.dtype == torch.float32 and label.shape == (3,)
    every = torch.cat([s.train.labels, s.val.labels, s.test.labels])
    expected = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=torch.float32)
    assert sorted(map(tuple, every.tolist())) == sorted(map(tuple, expected.tolist()))
    assert len(s.labelled) == 2 and s.label_prior.shape == (3,)
    forced = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), labels_csv=str(csv_path), channels=3))
    assert forced.image_shape == (3, 64, 64) and forced.test[0][0].shape == (3, 64, 64)
    grey_default = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), labels_csv=str(csv_path)))
    assert grey_default.image_shape == (1, 28, 28)


def test_folder_missing_file_is_named(tmp_path):
    names = write_images(tmp_path, 5)
    write_csv(tmp_path, "file,label", [f"{nm},{i % 2}" for i, nm in enumerate(names)] + ["img/gone.png,1"])
    with pytest.raises(DataError, match="gone.png"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))



def test_folder_image_listed_twice_is_refused_with_both_lines(tmp_path):
    """Tables joined by hand repeat rows: the same image could be trained on and tested on, or carry two labels."""
    names = write_images(tmp_path, 6)
    rows = [f"{nm},{i % 2}" for i, nm in enumerate(names)]
    write_csv(tmp_path, "file,label", rows + [f"./{names[1]},0"])  # the same file, spelt differently
    with pytest.raises(DataError, match=r"line 8 lists .*01.png again \(first on line 3\)"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    write_csv(tmp_path, "file,label", rows)
    assert len(load_data(DataConfig(dataset="folder", data_dir=str(tmp_path))).labelled) == 4

def test_folder_bad_binary_value_names_row_and_column(tmp_path):
    names = write_images(tmp_path, 4)
    write_csv(tmp_path, "file,A,B", [f"{names[0]},1,0", f"{names[1]},0,maybe", f"{names[2]},1,1", f"{names[3]},0,0"])
    with pytest.raises(DataError, match=r"line 3 column 'B' is 'maybe'"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))


def test_folder_structural_errors(tmp_path):
    names = write_images(tmp_path, 4)
    write_csv(tmp_path, "file,label", [f"{nm},same" for nm in names])
    with pytest.raises(DataError, match="at least 2"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    write_csv(tmp_path, "file,label", [f"{names[0]},a", f"{names[1]},b"])
    with pytest.raises(DataError, match="at least 3"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    write_csv(tmp_path, f"{names[0]},a", [f"{names[1]},b", f"{names[2]},a", f"{names[3]},b"])
    with pytest.raises(DataError, match="header row is required"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    write_csv(tmp_path, "file,label", [f"{names[0]},a,extra"])
    with pytest.raises(DataError, match="line 2 has 3 columns"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    with pytest.raises(DataError, match="neither labels.csv nor class subfolders"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path / "img")))
    write_csv(tmp_path, "file,label", [f"{nm},{i % 2}" for i, nm in enumerate(names)])
    with pytest.raises(DataError, match="channels"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), channels=2))


def test_folder_undecodable_image_refused_at_load_or_named_when_read(tmp_path):
    names = write_images(tmp_path, 5)
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG but not really")
    write_csv(tmp_path, "file,label", [f"{nm},{i % 2}" for i, nm in enumerate(names)] + ["img/broken.png,0"])
    with pytest.raises(DataError, match=r"broken.png: cannot decode image .*refused, not skipped"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), channels=3))
    # damaged past its header: loads (only headers are read up front), and the read names the file
    Image.new("RGB", (40, 40), (200, 10, 10)).save(tmp_path / "img" / "broken.png")
    whole = (tmp_path / "img" / "broken.png").read_bytes()
    (tmp_path / "img" / "broken.png").write_bytes(whole[: len(whole) // 2])
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), channels=3))
    every = [(part, i) for part in (s.train, s.val, s.test) for i in range(len(part))]
    part, i = next((p, i) for p, i in every if p.paths[i].endswith("broken.png"))
    with pytest.raises(DataError, match="broken.png"):
        part[i]
    # through a DataLoader worker the error keeps its own one-line message
    with pytest.raises(DataError, match=r"^\S*broken.png: cannot decode image"):
        list(iterate_batches(part, np.array([i]), 1, shuffle=False, generator=None, num_workers=1))


# ------------------------------------------------------------------- pixels as a viewer shows them
def test_image_files_are_read_as_a_viewer_shows_them(tmp_path):
    """A 16-bit grey image keeps its grey levels (PIL's convert("L") clipped everything above 255 to white), a
    transparent background is white, a photo's EXIF orientation is applied; the explorer reads an added image
    the same way (one function, core.imaging)."""
    from core.data import ImageFileLoader
    from explorer.own_images import read_image

    ramp = np.linspace(0, 65535, 30 * 40).astype(np.uint16).reshape(30, 40)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    grey = ImageFileLoader(1, 28)(str(tmp_path / "deep.png"))
    assert abs(float(grey.mean()) - 0.5) < 0.02 and float(grey.min()) < 0.05  # was 0.996 mean: all but white
    colour = ImageFileLoader(3, 28)(str(tmp_path / "deep.png"))
    assert torch.equal(colour[0], grey[0]) and torch.equal(colour[1], colour[2])
    np.testing.assert_allclose(read_image(tmp_path / "deep.png")[..., 0], ramp / 65535.0, atol=1e-6)

    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0], rgba[:10, :, 3] = 255, 255  # red, the top half opaque, the bottom half transparent
    Image.fromarray(rgba).save(tmp_path / "sprite.png")
    sprite = ImageFileLoader(3, 28)(str(tmp_path / "sprite.png"))
    assert sprite[:, 3, 14].tolist() == [1.0, 0.0, 0.0] and sprite[:, 24, 14].tolist() == [1.0, 1.0, 1.0]

    landscape = np.zeros((20, 40), np.uint8)
    landscape[:, :20] = 255  # white on the left; EXIF orientation 6 shows it turned a quarter clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(landscape).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    shown = ImageFileLoader(1, 28, "pad")(str(tmp_path / "photo.jpg"))[0]
    assert float(shown[4:10, 10:18].mean()) > 0.9 and float(shown[18:24, 10:18].mean()) < 0.1  # white on top


def test_a_large_jpeg_decoded_small_gives_the_full_decode_s_picture(tmp_path):
    """Large JPEGs are decoded at reduced scale (bench/image_decode.py: a 12-megapixel photo 4-5x faster for a
    64x64 model); the picture is the full decode's within a grey level on average and eight at most (the DCT's
    shrinking filters a little differently), in every resize mode and grey too."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from image_decode import full_decode, photo

    from core.data import ImageFileLoader

    photo(1600, 1200, 0).save(tmp_path / "p.jpg", quality=88)
    for channels in (1, 3):
        ours = ImageFileLoader(channels, 64)(str(tmp_path / "p.jpg"))
        assert ours.shape == (channels, 64, 64)
        apart = (ours - full_decode(str(tmp_path / "p.jpg"), channels, 64)).abs()
        assert float(apart.mean()) <= 1 / 255 and float(apart.max()) <= 8 / 255
    for mode in ("crop", "pad"):
        assert ImageFileLoader(3, 32, mode)(str(tmp_path / "p.jpg")).shape == (3, 32, 32)


def test_a_table_written_on_windows_finds_its_images(tmp_path):
    """Backslashes separate the folders of a CSV made on Windows ("img\\03.png"); a missing file is still named."""
    names = write_images(tmp_path, 6)
    write_csv(tmp_path, "file,label", [f"{nm.replace('/', chr(92))},{i % 2}" for i, nm in enumerate(names)])
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    listed = sorted(Path(p).name for part in (s.train, s.val, s.test) for p in part.paths)
    assert listed == sorted(Path(nm).name for nm in names)
    write_csv(tmp_path, "file,label", [f"{nm.replace('/', chr(92))},{i % 2}" for i, nm in enumerate(names)]
              + ["img\\gone.png,1"])
    with pytest.raises(DataError, match="gone.png, which does not exist"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))


def test_binary_cells_as_pandas_and_spreadsheets_write_them(tmp_path):
    """pandas writes a 0/1 column with empty cells as floats ("1.0"); spreadsheets say yes/no."""
    names = write_images(tmp_path, 6)
    values = ["1.0,no", "0.0,yes", "1,YES", "-1.0,No", ",", "1.0,0"]
    write_csv(tmp_path, "file,A,B", [f"{nm},{v}" for nm, v in zip(names, values)])
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    every = {Path(p).name: tuple(lab.tolist()) for part in (s.train, s.val, s.test)
             for p, lab in zip(part.paths, part.labels)}
    assert every["00.png"] == (1.0, 0.0) and every["01.png"] == (0.0, 1.0) and every["03.png"] == (0.0, 0.0)
    assert np.isnan(every["04.png"]).all()  # all empty: unlabelled
    write_csv(tmp_path, "file,A,B", [f"{nm},{v}" for nm, v in zip(names, values[:5] + ["0.5,1"])])
    with pytest.raises(DataError, match=r"line 7 column 'A' is '0.5'"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))


def test_a_colour_folder_whose_first_picture_is_grey_is_read_in_colour(tmp_path):
    """The channels followed the first image: one grey scan sorted first made a folder of colour photos train
    grey, a silently wrong model. Colour when any image is; --channels still decides."""
    names = write_images(tmp_path, 6)  # RGB
    Image.new("L", (20, 12), color=90).save(tmp_path / names[0])  # the first one grey
    write_csv(tmp_path, "file,label", [f"{nm},{i % 2}" for i, nm in enumerate(names)])
    assert load_data(DataConfig(dataset="folder", data_dir=str(tmp_path))).image_shape == (3, 64, 64)
    assert load_data(DataConfig(dataset="folder", data_dir=str(tmp_path), channels=1)).image_shape == (1, 28, 28)


def test_a_run_s_data_reload_at_the_shape_its_model_takes():
    """A folder run's config leaves channels and side to the images; reloading it (resume, measure, the explorer's
    pictures) uses the shape its model was built for, whatever the folder holds first now."""
    from core.config import ModelConfig, RunConfig

    folder = RunConfig(model=ModelConfig(image_shape=(3, 32, 32)),
                       data=DataConfig(dataset="folder", data_dir="/data").to_json())
    data = folder.data_as_trained()
    assert (data["channels"], data["image_size"]) == (3, 32) and folder.data["channels"] is None
    chosen = RunConfig(model=ModelConfig(image_shape=(3, 64, 64)),
                       data=DataConfig(dataset="folder", data_dir="/data", channels=3, image_size=64).to_json())
    assert chosen.data_as_trained() == chosen.data
    digits = RunConfig(data=DataConfig(dataset="mnist5k").to_json())
    assert digits.data_as_trained() == digits.data


def test_columns_a_spreadsheet_left_empty_after_the_last_name_are_ignored(tmp_path):
    """A table saved from a spreadsheet often ends every line with ",," (columns once touched); that used to be
    refused as 'label column names must be distinct'. A value under no name, or a nameless label column, is named."""
    names = write_images(tmp_path, 6)
    write_csv(tmp_path, "file,kind,,", [f"{nm},{'ab'[i % 2]}" + ",," * (i % 2) for i, nm in enumerate(names)])
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    assert s.label_spec.kind == MULTICLASS and s.label_spec.names == ("a", "b")
    write_csv(tmp_path, "file,kind,,", [f"{nm},{'ab'[i % 2]},," for i, nm in enumerate(names)][:5]
              + [f"{names[5]},b,,3"])
    with pytest.raises(DataError, match="line 7 has a value in column 4, which the header does not name"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    write_csv(tmp_path, "file,,kind", [f"{nm},,{'ab'[i % 2]}" for i, nm in enumerate(names)])
    with pytest.raises(DataError, match="header column 2 has no name"):
        load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))


def test_a_table_saved_by_excel_on_windows_reads_its_accents(tmp_path):
    """Excel on Windows saves "CSV" in the code page (cp1252), not UTF-8: such a table was refused as undecodable."""
    names = write_images(tmp_path, 6)
    rows = "\r\n".join(["file;espèce"] + [f"{nm};{'café' if i % 2 else 'thé'}" for i, nm in enumerate(names)])
    (tmp_path / "labels.csv").write_bytes(rows.encode("cp1252"))
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    assert s.label_spec.names == ("café", "thé")


def test_jpegs_saved_as_jfif_and_avif_photos_are_images(tmp_path):
    """Windows often saves a JPEG as .jfif; phones and browsers save AVIF. Both were skipped as not images."""
    from core.data.classfolders import read_class_folders

    for kind in ("a", "b"):
        (tmp_path / kind).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 16), (40 * i, 90, 200)).save(tmp_path / kind / f"{i}.jfif", "JPEG")
    avif = features.check_module("avif")  # Pillow's AVIF support (11.3 on, with libavif)
    if avif:
        Image.new("RGB", (20, 16), (200, 90, 40)).save(tmp_path / "a" / "photo.avif", "AVIF")
    listing = read_class_folders(tmp_path)
    assert sorted(Path(p).suffix for p in listing.paths) == [".avif"] * avif + [".jfif"] * 6
    s = load_data(DataConfig(dataset="folder", data_dir=str(tmp_path)))
    assert s.image_shape == (3, 64, 64)
