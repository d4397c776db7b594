"""A user's own images as a .npz: the layouts people have are read, normalised per channel and
searched; every broken file is one line naming the array and the fix, before anything runs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from models import analyse
from search.data import dataset_info, retrain_splits, search_splits
from search.errors import TinynasError
from search.study import TrialRecord, check_space
from tests.helpers import make_spec, run_synthetic, write_npz


@pytest.mark.parametrize(("shape", "channels"), [((8, 8), 1), ((8, 8, 3), 3), ((3, 8, 8), 3), ((10, 8, 1), 1)])
def test_the_layouts_people_have_are_read_as_channels_first(tmp_path: Path, shape, channels: int) -> None:
    info = dataset_info(str(write_npz(tmp_path / "d.npz", shape=shape)))
    assert info.shape[0] == channels and info.classes == 3 and len(info.mean) == channels
    train, val = search_splits(info, tmp_path, val_size=0.25)
    assert (len(train), len(val)) == (45, 15) and train.x.shape[1] == channels
    both = torch.cat([train.x, val.x])
    assert torch.allclose(both.mean(dim=(0, 2, 3)), torch.zeros(channels), atol=1e-4)  # normalised per channel
    assert torch.allclose(both.std(dim=(0, 2, 3)), torch.ones(channels), atol=1e-2)
    _, test = retrain_splits(info, tmp_path)
    assert len(test) == 20


def test_float_pixels_in_0_1_are_the_same_images_as_uint8(tmp_path: Path) -> None:
    as_bytes = dataset_info(str(write_npz(tmp_path / "a.npz")))
    x = np.load(tmp_path / "a.npz")["x_train"]
    floats = write_npz(tmp_path / "b.npz", x_train=x / 255.0, x_test=x[:20] / 255.0)
    assert dataset_info(str(floats)).mean == pytest.approx(as_bytes.mean, abs=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"y_train": np.arange(59) % 3}, "x_train holds 60 images but y_train 59 labels"),
        ({"y_test": np.full(20, -1)}, "y_test has label -1"),
        ({"y_train": np.where(np.arange(60) % 3 == 1, 2, np.arange(60) % 3)}, "y_train has no image of class 1"),
        ({"y_test": np.full(20, 7)}, "y_test has label 7, no training image has it"),
        ({"x_train": np.zeros((60, 1, 1), np.uint8)}, "x_train images are 1x1"),
        ({"x_train": np.full((60, 8, 8), 2.0)}, "x_train has float pixels outside [0, 1]"),
        ({"x_test": np.zeros((20, 6, 6), np.uint8)}, "x_test images are (1, 6, 6), x_train images (1, 8, 8)"),
        ({"y_train": np.full(60, 0.5)}, "y_train is float64"),
        ({"x_train": np.zeros((60, 8, 8, 5), np.uint8)}, "x_train has shape (60, 8, 8, 5)"),
    ],
)
def test_a_broken_file_is_one_line_naming_the_array(tmp_path: Path, override: dict, message: str) -> None:
    path = write_npz(tmp_path / "d.npz", **override)
    with pytest.raises(TinynasError, match=re.escape(message)):
        dataset_info(str(path))


def test_a_file_that_is_no_npz_or_lacks_an_array_says_so(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(TinynasError, match=r"is not a readable \.npz"):
        dataset_info(str(tmp_path / "junk.npz"))
    np.savez(tmp_path / "half.npz", x_train=np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(TinynasError, match="has no y_train, x_test, y_test"):
        dataset_info(str(tmp_path / "half.npz"))
    with pytest.raises(TinynasError, match="no such file"):
        dataset_info(str(tmp_path / "none.npz"))


def test_a_validation_split_larger_than_half_the_images_names_the_key(tmp_path: Path) -> None:
    info = dataset_info(str(write_npz(tmp_path / "d.npz")))
    with pytest.raises(TinynasError, match=r"\[run\] val_size = 10000: the training images number 60"):
        search_splits(info, tmp_path, val_size=10_000)


def test_a_search_on_a_users_rgb_file_trains_models_of_its_shape(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "rgb.npz", n=90, shape=(8, 8, 3))
    spec = make_spec(dataset=str(path), **{"run.val_size": 0.2})
    check_space(spec)
    info = dataset_info(str(path))
    train, val = search_splits(info, tmp_path, 0.2)
    study = run_synthetic(spec, tmp_path / "s.db", trials=2, info=info, splits=(train, val))
    trained = [r for r in map(TrialRecord.of, study.get_trials()) if r.trained]
    assert len(trained) == 2
    assert all(r.experiment().model.input_shape == (3, 8, 8) and r.experiment().model.num_classes == 3 for r in trained)
    assert all(analyse(r.experiment().model).params <= spec.budget.max_params for r in trained)


def test_a_teacher_built_for_mnist_is_refused_on_other_data(tmp_path: Path) -> None:
    spec = make_spec(dataset=str(write_npz(tmp_path / "d.npz")), **{"space.train.teacher": "seed-8k"})
    with pytest.raises(TinynasError, match=r"teacher 'seed-8k' is built for 1x28x28 images and 10 classes"):
        check_space(spec)


def image_folder(root: Path, layout: dict[str, int], size=(8, 8), mode: str = "L") -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for k in range(count):
            shape = size[::-1] if mode == "L" else (*size[::-1], 3)
            Image.fromarray((rng.random(shape) * 255).astype(np.uint8), mode).save(root / folder / f"{k}.png")
    return root


def test_a_folder_of_class_folders_is_read_with_its_class_names(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "d", {"train/cat": 6, "train/dog": 6, "test/cat": 2, "test/dog": 2}, mode="RGB")
    info = dataset_info(str(root))
    assert (info.shape, info.classes, info.class_names) == ((3, 8, 8), 2, ("cat", "dog"))
    train, test = retrain_splits(info, tmp_path)
    assert (len(train), len(test)) == (12, 4) and train.y.tolist() == [0] * 6 + [1] * 6


def test_class_folders_alone_get_a_test_split_carved_with_a_fixed_seed(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "d", {"a": 10, "b": 10, "c": 5})
    first = retrain_splits(dataset_info(str(root)), tmp_path)[1]
    from search.data.folders import _read

    _read.cache_clear()
    again = retrain_splits(dataset_info(str(root)), tmp_path)[1]
    assert len(first) == 2 + 2 + 1 and torch.equal(first.x, again.x)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: (r / "train" / "a" / "x.png").write_bytes(b"junk"), "train/a/x.png is not a readable image"),
        (
            lambda r: image_folder(r, {"train/a": 1}, size=(6, 6)),
            "is 8x8, the first image 6x6; the images of a folder share one size",
        ),
        (lambda r: (r / "train" / "empty").mkdir(), "holds no image"),
        (lambda r: image_folder(r, {"test/zebra": 1}), "test/zebra is a class train/ does not have"),
    ],
)
def test_a_broken_folder_is_one_line_naming_the_file(tmp_path: Path, make, message: str) -> None:
    root = image_folder(tmp_path / "d", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 1})
    make(root)
    with pytest.raises(TinynasError, match=re.escape(message)):
        dataset_info(str(root))


def test_a_folder_too_large_to_read_is_refused_from_its_first_header(tmp_path: Path, monkeypatch) -> None:
    """A door with a size: the decoded images are bounded before any image is decoded (the
    first image's header and the file count say how large they would be)."""
    from PIL import Image

    from search.data import folders

    root = image_folder(tmp_path / "d", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 1})
    monkeypatch.setattr(folders, "MAX_ARRAY_FILE_BYTES", 6 * 8 * 8 - 1)  # one byte short of the 6 training images
    decoded: list = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    with pytest.raises(TinynasError, match=r"images of 8x8 would take 384 bytes decoded, more than the 383"):
        folders.read_folder(root)
    assert not decoded


def test_a_registered_name_wins_over_a_folder_of_that_name(tmp_path: Path, monkeypatch) -> None:
    image_folder(tmp_path / "mnist", {"a": 2, "b": 2})
    monkeypatch.chdir(tmp_path)
    assert dataset_info("mnist").shape == (1, 28, 28) and dataset_info("mnist").path is None


def test_a_study_export_and_retrain_keep_to_the_data_they_were_made_on(tmp_path: Path) -> None:
    """The same path with other content: a resumed search and a retrain of its export refuse
    it in one line; the export records which content it was searched on."""
    from search.outputs import experiment_for
    from search.study import StudyRecord, complete_records
    from search.study.record import StudyKey

    path = write_npz(tmp_path / "d.npz", n=90)
    spec = make_spec(dataset=str(path), **{"run.val_size": 0.2})
    info = dataset_info(str(path))
    study = run_synthetic(spec, tmp_path / "s.db", trials=1, info=info, splits=search_splits(info, tmp_path, 0.2))
    assert study.user_attrs[StudyKey.DATA_DIGEST] == info.digest == StudyRecord.of(study).data_digest
    exp = experiment_for(study, complete_records(study)[0])
    assert exp.provenance.data_digest == info.digest

    from search.data.arrays import _read

    write_npz(tmp_path / "d.npz", n=93)  # new content at the same path
    _read.cache_clear()
    with pytest.raises(TinynasError, match="was searched on other data than"):
        run_synthetic(spec, tmp_path / "s.db", trials=2, info=info)
    from search.training.retrain import RetrainOptions, retrain

    with pytest.raises(TinynasError, match="holds other data than this configuration was searched on"):
        retrain(exp, RetrainOptions(seed_count=1, data_root=tmp_path))


def test_a_folder_of_rgb_pngs_goes_through_the_api_search_export_retrain_report_and_deploy(tmp_path: Path) -> None:
    """The flow on a user's folder (300 RGB 32x32 PNGs in 3 named classes), from the API: the
    models take the data's shape, flips are a recipe choice, the report and the deployed
    card name the classes."""
    pytest.importorskip("onnxruntime")
    from search import api

    root = image_folder(tmp_path / "pets", {"train/cat": 80, "train/dog": 80, "train/fox": 80,
                                            "test/cat": 20, "test/dog": 20, "test/fox": 20}, size=(32, 32), mode="RGB")  # fmt: skip
    spec = make_spec(
        dataset=str(root),
        **{"run.val_size": 0.25, "budget.max_epochs": 1, "space.train.epochs": 1, "space.train.flip": [False, True]},
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = api.search(spec, trials=2, storage=url, jobs=1, threads=1, confirm=False)
    exp = api.export(study, rule="best", out=tmp_path / "best.json")
    assert exp.model.input_shape == (3, 32, 32) and exp.model.num_classes == 3 and exp.dataset == str(root)
    result = api.retrain(tmp_path / "best.json", seeds=2, epochs=1, out=tmp_path / "run", jobs=1, threads=1,
                         results=f"sqlite:///{tmp_path / 'r.db'}")  # fmt: skip
    assert [r.seed for r in result.runs] == [exp.train.seed, exp.train.seed + 1]
    page = api.report(study, tmp_path / "report.html", results=f"sqlite:///{tmp_path / 'r.db'}").read_text()
    assert "3 classes: cat, dog, fox" in page
    card = api.deploy(tmp_path / "run" / f"seed{exp.train.seed}" / "checkpoint.pt", tmp_path / "m.onnx", int8=True)
    assert card.classes == ["cat", "dog", "fox"] and card.onnx["input"].startswith("image: float32 [batch, 3, 32, 32]")
    assert card.int8 is not None


def test_a_spec_may_resize_the_images_and_the_export_carries_it_to_retrain(tmp_path: Path) -> None:
    """Images as stored unless the spec says `resize`: then every split is read at that size,
    the models take it, and an export retrains (and hashes) with it."""
    from search import api

    path = write_npz(tmp_path / "d.npz", n=90, shape=(8, 8, 3))
    assert dataset_info(str(path)).shape == (3, 8, 8)
    info = dataset_info(str(path), (12, 10))
    assert info.shape == (3, 12, 10) and info.resize == (12, 10)
    train, val = search_splits(info, tmp_path, 0.2)
    assert train.x.shape[1:] == (3, 12, 10) and val.x.shape[1:] == (3, 12, 10)
    spec = make_spec(dataset=str(path), resize=[12, 10], **{"run.val_size": 0.2, "space.train.epochs": 1})
    study = api.search(spec, trials=1, storage=f"sqlite:///{tmp_path / 's.db'}", jobs=1, threads=1, confirm=False)
    exp = api.export(study, rule="best")
    assert exp.resize == (12, 10) and exp.model.input_shape == (3, 12, 10)
    assert exp.config_hash() != exp.model_copy(update={"resize": None}).config_hash()
    result = api.retrain(
        exp, epochs=1, out=tmp_path / "run", jobs=1, threads=1, results=f"sqlite:///{tmp_path / 'r.db'}"
    )
    assert len(result.runs) == 1 and 0 <= result.runs[0].final <= 100
    for bad in ([2, 2], [12, 1000]):
        with pytest.raises(TinynasError, match="each side must be 4 to 256 pixels"):
            dataset_info(str(path), tuple(bad))


def test_a_search_tells_its_feed_where_the_study_stands(tmp_path: Path) -> None:
    """What the CLI shows of a run comes from the API's feed, not from reaching below it."""
    from search import api

    path = write_npz(tmp_path / "d.npz", n=90, shape=(8, 8))
    spec = make_spec(dataset=str(path), **{"run.val_size": 0.2, "space.train.epochs": 1})
    heard: list = []
    feed = api.SearchFeed(starting=heard.append, timeout_reached=lambda cut: heard.append(("cut", cut)))
    url = f"sqlite:///{tmp_path / 's.db'}"
    api.search(spec, trials=2, storage=url, jobs=1, threads=1, confirm=False, feed=feed)
    again: list = []
    api.search(spec, trials=2, storage=url, jobs=1, threads=1, confirm=False, feed=api.SearchFeed(again.append))
    first, second = heard[0], again[0]
    assert (first.name, first.finished, first.target, first.workers, first.threads) == ("synthetic", 0, 2, 1, 1)
    assert first.train_images == 72 and first.others == () and first.storage == url and len(heard) == 1
    assert (second.finished, second.target) == (2, 2)  # nothing to do: the CLI says so
