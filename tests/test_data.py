"""Tests of keras_vae.data: validation, user files, tf.data pipelines, offline Fashion-MNIST."""

import gzip
import hashlib
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from keras_vae.data import (
    BINARIZATIONS,
    DataError,
    binarize_static,
    load_array_file,
    load_image_folder,
    load_tfds_images,
    load_user_images,
    make_dataset,
    prepare_offline_fashion_mnist,
    validate_images,
)

FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------- validate_images


def test_uint8_is_scaled_to_unit_interval():
    x = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)
    out = validate_images(x)
    assert out.dtype == np.float32
    assert out.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(out[0, :, :, 0], [[0.0, 0.2], [1.0, 0.4]], atol=1e-7)


def test_channel_axis_added_and_kept():
    assert validate_images(np.zeros((3, 5, 4), np.float32)).shape == (3, 5, 4, 1)
    assert validate_images(np.zeros((3, 5, 4, 3), np.float32)).shape == (3, 5, 4, 3)


def test_bool_and_small_int_accepted():
    out = validate_images(np.array([[[True, False]]]))
    np.testing.assert_array_equal(out.ravel(), [1.0, 0.0])
    out = validate_images(np.array([[[0, 255]]], dtype=np.int64))
    np.testing.assert_allclose(out.ravel(), [0.0, 1.0])


def test_valid_float_passes_unchanged():
    x = np.random.default_rng(0).random((2, 3, 3, 1)).astype(np.float64)
    out = validate_images(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x, rtol=1e-6)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[[{"a": 1}]]], dtype=object), "non-numeric"),
        (np.array([[["a", "b"]]]), "non-numeric"),
        (np.zeros((1, 2, 2), np.complex64), "non-numeric"),
        (np.zeros((4, 4), np.float32), "dimensions"),
        (np.zeros((1, 2, 2, 1, 1), np.float32), "dimensions"),
        (np.zeros((0, 28, 28), np.uint8), "no images"),
        (np.array([[[np.nan, 0.5], [np.nan, np.inf]]]), "2 NaN and 1 inf"),
        (np.array([[[0.0, 255.0]]]), "divide by 255"),
        (np.array([[[-0.5, 0.5]]]), "min -0.5"),
        (np.array([[[0, 300]]], dtype=np.int16), "0..255"),
        (np.array([[[-1, 3]]], dtype=np.int32), "0..255"),
    ],
)
def test_validate_images_errors(bad, match):
    with pytest.raises(DataError, match=match):
        validate_images(bad)


def test_data_error_is_value_error_and_uses_name():
    with pytest.raises(ValueError, match="my.npy"):
        validate_images(np.zeros((0, 2, 2)), name="my.npy")


# ---------------------------------------------------------------- image folders


def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)


def test_flat_grey_folder(tmp_path):
    rng = np.random.default_rng(0)
    grey = [rng.integers(0, 256, (4, 5), dtype=np.uint8) for _ in range(3)]
    for i, g in enumerate(grey):
        _png(tmp_path / f"img{i}.png", g)
    (tmp_path / "notes.txt").write_text("not an image")  # ignored
    images, labels, class_names = load_image_folder(tmp_path)
    assert images.shape == (3, 4, 5, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[..., 0], np.stack(grey))  # sorted file order
    assert labels is None and class_names is None


def test_class_subfolders_mixed_grey_rgb_rgba(tmp_path):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (6, 6), dtype=np.uint8)
    rgb = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (6, 6, 4), dtype=np.uint8)
    _png(tmp_path / "dog" / "a.png", grey)
    _png(tmp_path / "cat" / "b.PNG", rgb)  # extension case must not matter
    _png(tmp_path / "cat" / "c.png", rgba)
    # JPEG is lossy on noise, so the JPEG file holds a smooth picture.
    smooth = np.stack([*np.meshgrid(np.arange(6) * 40, np.arange(6) * 30), np.full((6, 6), 90)], -1)
    Image.fromarray(smooth.astype(np.uint8)).save(tmp_path / "dog" / "d.JPEG", quality=95)
    images, labels, class_names = load_image_folder(tmp_path)
    assert class_names == ["cat", "dog"]
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    assert labels.dtype == np.int64
    assert images.shape == (4, 6, 6, 3)
    np.testing.assert_array_equal(images[0], rgb)
    np.testing.assert_array_equal(images[1], rgba[..., :3])  # alpha dropped
    np.testing.assert_array_equal(images[2], np.repeat(grey[..., None], 3, axis=-1))
    assert np.abs(images[3].astype(int) - smooth).mean() < 8  # lossy, but the same picture


def test_sixteen_bit_and_grey_palette_stay_grey(tmp_path):
    a16 = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000
    Image.fromarray(a16).save(tmp_path / "a16.png")  # mode I;16
    g = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    Image.fromarray(g).convert("P").save(tmp_path / "b_palette.png")  # grey palette
    images, _, _ = load_image_folder(tmp_path)
    assert images.shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(images[0, ..., 0], np.round(a16 / 257))  # scaled, not clipped
    np.testing.assert_array_equal(images[1, ..., 0], g)


def test_corrupt_image_is_named(tmp_path):
    _png(tmp_path / "good.png", np.zeros((4, 4)))
    (tmp_path / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_image_folder(tmp_path)


def test_truncated_image_is_named(tmp_path):
    noise = np.random.default_rng(2).integers(0, 256, (64, 64), dtype=np.uint8)
    _png(tmp_path / "a.png", noise)
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "b.png").write_bytes(data[: len(data) // 2])  # header intact, pixels cut
    with pytest.raises(DataError, match=r"cannot decode.*b\.png"):
        load_image_folder(tmp_path)


def test_mixed_sizes_name_both_files(tmp_path):
    _png(tmp_path / "a.png", np.zeros((4, 4)))
    _png(tmp_path / "b.png", np.zeros((5, 4)))
    with pytest.raises(DataError, match=r"a\.png is 4x4.*b\.png is 4x5.*one size"):
        load_image_folder(tmp_path)


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no images found.*\.png, \.jpg, \.jpeg"):
        load_image_folder(tmp_path)
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "nope")


def test_empty_class_folder_refused(tmp_path):
    _png(tmp_path / "a" / "x.png", np.zeros((4, 4)))
    (tmp_path / "b").mkdir()
    with pytest.raises(DataError, match=r"class folder .*b has no images"):
        load_image_folder(tmp_path)


# ---------------------------------------------------------------- .npy / .npz


def test_npy_uint8_and_npz_float_with_labels(tmp_path):
    x8 = np.random.default_rng(3).integers(0, 256, (5, 3, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", x8)
    images, labels = load_array_file(tmp_path / "a.npy")
    np.testing.assert_array_equal(images, x8)
    assert labels is None

    xf = np.random.default_rng(4).random((5, 3, 3, 1)).astype(np.float32)
    np.savez(tmp_path / "b.npz", x=xf, y=np.arange(5, dtype=np.int32))
    images, labels = load_array_file(tmp_path / "b.npz")
    np.testing.assert_array_equal(images, xf)
    np.testing.assert_array_equal(labels, np.arange(5))
    assert labels.dtype == np.int64

    np.savez(tmp_path / "c.npz", x8)  # single unnamed array -> arr_0
    images, labels = load_array_file(tmp_path / "c.npz")
    np.testing.assert_array_equal(images, x8)
    assert labels is None


def test_npz_without_image_key_lists_keys(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.zeros((2, 2, 2)), b=np.zeros(2))
    with pytest.raises(DataError, match=r"\['a', 'b'\].*'images'"):
        load_array_file(tmp_path / "d.npz")


def test_npz_label_count_mismatch(tmp_path):
    np.savez(tmp_path / "e.npz", images=np.zeros((4, 2, 2)), labels=np.arange(3))
    with pytest.raises(DataError, match="3 labels for 4 images"):
        load_array_file(tmp_path / "e.npz")


class _Booby:
    """Unpickling this would create a marker file: proof that nothing was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_object_arrays_refused_and_never_unpickled(tmp_path, suffix):
    marker = tmp_path / "unpickled.flag"
    arr = np.empty(2, dtype=object)
    arr[:] = [_Booby(str(marker)), _Booby(str(marker))]
    path = tmp_path / f"evil{suffix}"
    if suffix == ".npy":
        np.save(path, arr, allow_pickle=True)
    else:
        np.savez(path, images=arr)
    assert not marker.exists()
    with pytest.raises(DataError, match="pickled/object arrays are not loaded for safety"):
        load_array_file(path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_truncated_array_file_refused(tmp_path, suffix):
    path = tmp_path / f"full{suffix}"
    x = np.zeros((50, 8, 8), np.uint8)
    np.save(path, x) if suffix == ".npy" else np.savez(path, images=x)
    cut = tmp_path / f"cut{suffix}"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"cut\{suffix}.*corrupt or truncated"):
        load_array_file(cut)


# ---------------------------------------------------------------- load_user_images


def test_user_split_sizes_and_determinism(tmp_path):
    x = np.random.default_rng(5).integers(0, 256, (20, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", images=x, labels=np.arange(20))
    a = load_user_images(tmp_path / "d.npz", validation_fraction=0.25, seed=7)
    b = load_user_images(tmp_path / "d.npz", validation_fraction=0.25, seed=7)
    c = load_user_images(tmp_path / "d.npz", validation_fraction=0.25, seed=8)
    (xtr, ytr), (xte, yte) = a["train"], a["test"]
    assert xtr.shape == (15, 4, 4, 1) and xte.shape == (5, 4, 4, 1)
    assert xtr.dtype == np.float32 and xtr.max() <= 1.0
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(20))  # a partition
    np.testing.assert_array_equal(xtr, x[ytr][..., None] / np.float32(255))  # pairs kept
    np.testing.assert_array_equal(yte, b["test"][1])
    assert not np.array_equal(yte, c["test"][1])
    assert a["class_names"] is None


def test_user_folder_keeps_class_names(tmp_path):
    for cls in ("b", "a"):
        for i in range(3):
            _png(tmp_path / cls / f"{i}.png", np.full((4, 4), 40 * i))
    data = load_user_images(tmp_path, validation_fraction=0.34, seed=0)
    assert data["class_names"] == ["a", "b"]
    assert len(data["train"][0]) == 4 and len(data["test"][0]) == 2
    assert set(data["train"][1]) | set(data["test"][1]) == {0, 1}


def test_user_split_errors(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(DataError, match="at least 2"):
        load_user_images(tmp_path / "one.npy")
    np.save(tmp_path / "five.npy", np.zeros((5, 2, 2), np.uint8))
    with pytest.raises(DataError, match="held-out split would be empty"):
        load_user_images(tmp_path / "five.npy", validation_fraction=0.05)
    np.save(tmp_path / "f255.npy", np.full((5, 2, 2), 200.0))
    with pytest.raises(DataError, match="divide by 255"):
        load_user_images(tmp_path / "f255.npy")
    with pytest.raises(DataError, match="not found"):
        load_user_images(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="validation_fraction"):
        load_user_images(tmp_path / "five.npy", validation_fraction=1.0)


# ---------------------------------------------------------------- pipeline


def _epoch(ds):
    return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy() for b in ds]


def test_batch_shapes_and_labels():
    x = np.random.default_rng(0).integers(0, 256, (10, 4, 4), dtype=np.uint8)
    batches = _epoch(make_dataset(x, np.arange(10), batch_size=4, shuffle=False))
    assert [b[0].shape for b in batches] == [(4, 4, 4, 1), (4, 4, 4, 1), (2, 4, 4, 1)]
    assert batches[0][0].dtype == np.float32
    np.testing.assert_allclose(batches[0][0], x[:4, ..., None] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(batches[2][1], [8, 9])
    dropped = _epoch(make_dataset(x, batch_size=4, drop_remainder=True))
    assert [b.shape for b in dropped] == [(4, 4, 4, 1), (4, 4, 4, 1)]
    endless = make_dataset(x, batch_size=4, repeat=True, drop_remainder=True)
    assert len(_epoch(endless.take(7))) == 7


def test_binarized_values_are_binary():
    x = np.random.default_rng(1).random((12, 5, 5)).astype(np.float32)
    for mode in ("dynamic", "static"):
        for b in _epoch(make_dataset(x, np.arange(12), batch_size=5, binarize=mode)):
            assert set(np.unique(b[0])) <= {0.0, 1.0}
            assert b[0].dtype == np.float32
    assert set(np.unique(binarize_static(x))) == {0.0, 1.0}


def test_dynamic_varies_between_epochs_static_does_not():
    x = np.full((16, 8, 8), 0.5, np.float32)
    dyn = make_dataset(x, batch_size=16, shuffle=False, binarize="dynamic", seed=3)
    e1, e2 = np.concatenate(_epoch(dyn)), np.concatenate(_epoch(dyn))
    assert not np.array_equal(e1, e2)
    sta = make_dataset(x, batch_size=16, shuffle=False, binarize="static", seed=3)
    s1, s2 = np.concatenate(_epoch(sta)), np.concatenate(_epoch(sta))
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(s1, binarize_static(x, seed=3))
    # Same seed, fresh pipeline: the same sequence of dynamic draws.
    again = make_dataset(x, batch_size=16, shuffle=False, binarize="dynamic", seed=3)
    np.testing.assert_array_equal(np.concatenate(_epoch(again)), e1)


def test_dynamic_draw_mean_matches_grey_values():
    grey = np.linspace(0.05, 0.95, 8, dtype=np.float32)
    x = np.broadcast_to(grey[:, None, None], (8, 16, 16)).copy()
    ds = make_dataset(x, np.arange(8), batch_size=8, shuffle=True, binarize="dynamic", seed=0)
    sums, count = np.zeros(8), 50
    for _ in range(count):
        for xb, yb in _epoch(ds):
            sums[yb] += xb.mean(axis=(1, 2, 3))
    # 256 pixels x 50 epochs per image: standard error <= 0.0045, so 0.02 is > 4 sigma.
    np.testing.assert_allclose(sums / count, grey, atol=0.02)


def test_shuffle_is_seeded_and_reshuffles():
    x = np.zeros((50, 2, 2), np.float32)
    y = np.arange(50)

    def orders(seed):
        ds = make_dataset(x, y, batch_size=50, seed=seed)
        return [_epoch(ds)[0][1] for _ in range(2)]

    a, b, c = orders(1), orders(1), orders(2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])  # a new order each epoch
    assert not np.array_equal(a[0], c[0])
    assert sorted(a[0]) == list(range(50))


@pytest.mark.parametrize("kind", ["images", "labelled", "table"])
def test_epoch_dataset_replays_any_epoch_of_images_labels_and_tables(kind):
    from keras_vae.data import make_epoch_dataset

    rng = np.random.default_rng(0)
    x = rng.normal(size=(23, 3)).astype("float32") if kind == "table" else rng.random((23, 4, 4)).astype("float32")
    labels = np.arange(23) if kind == "labelled" else None
    binarize = "dynamic" if kind == "images" else "none"
    options = dict(batch_size=5, binarize=binarize, seed=4, epochs=3, steps_per_epoch=6)
    whole, steps = make_epoch_dataset(x, labels, **options)
    later, _ = make_epoch_dataset(x, labels, initial_epoch=2, **options)
    whole, later = _epoch(whole), _epoch(later)
    assert steps == 6 and len(whole) == 18 and len(later) == 6
    for a, b in zip(whole[12:], later):  # epoch 2 alone is epoch 2 of the whole run
        for u, v in zip(a if labels is not None else (a,), b if labels is not None else (b,)):
            np.testing.assert_array_equal(u, v)
    first = whole[0][0] if labels is not None else whole[0]
    if kind == "table":
        # Rows are used as they are: the first batch holds 5 of the table's own rows.
        assert all(any(np.array_equal(row, r) for r in x) for row in first)
    elif kind == "images":
        assert set(np.unique(first)) <= {0.0, 1.0}
    else:
        # Each label travels with its image through the (seed, epoch) permutation.
        for xs, ys in whole:
            np.testing.assert_array_equal(xs, x[ys][..., None])
        assert len(set(np.concatenate([b[1] for b in whole[:4]]).tolist())) == 20  # pass 0 is a permutation


def test_tables_are_never_binarized():
    from keras_vae.data import make_epoch_dataset

    rows = np.random.default_rng(0).normal(size=(8, 3))
    for mode in ("dynamic", "static"):
        with pytest.raises(DataError, match="table rows"):
            make_epoch_dataset(rows, binarize=mode)
    with pytest.raises(DataError, match="NaN"):
        make_dataset(np.full((4, 2), np.nan))
    assert [tuple(b.shape) for b in make_dataset(rows, batch_size=5, shuffle=False)] == [(5, 3), (3, 3)]


def test_pipeline_argument_errors():
    x = np.zeros((4, 2, 2), np.float32)
    with pytest.raises(ValueError, match="'none', 'dynamic', 'static'"):
        make_dataset(x, binarize="stochastic")
    with pytest.raises(DataError, match="3 labels for 4 images"):
        make_dataset(x, np.arange(3))
    with pytest.raises(DataError, match="divide by 255"):
        make_dataset(x + 2.0)
    assert BINARIZATIONS == ("none", "dynamic", "static")


# ---------------------------------------------------------------- Fashion-MNIST via TFDS


def test_fashion_mnist_test_split(fashion_mnist_data_dir):
    x, y = load_tfds_images("fashion_mnist", "test", data_dir=fashion_mnist_data_dir)
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert 0.2 < x.mean() < 0.4  # real clothes, not zeros or noise (mean ~0.286)
    assert y.dtype == np.int64 and y.shape == (10000,)
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)


def test_fashion_mnist_train_split_size(fashion_mnist_data_dir):
    import tensorflow_datasets as tfds

    info = tfds.builder("fashion_mnist", data_dir=str(fashion_mnist_data_dir)).info
    assert info.splits["train"].num_examples == 60000
    assert info.splits["test"].num_examples == 10000


@pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason="needs dataset-fashion-mnist")
def test_rebuilt_gzip_files_match_tfds_checksums(tmp_path):
    import tensorflow_datasets as tfds

    manual_dir = prepare_offline_fashion_mnist(tmp_path)  # fresh dir: only rebuilds files
    assert manual_dir == tmp_path / "downloads" / "manual" / "fashion_mnist"
    registered = {
        info.filename: info.checksum
        for info in tfds.builder_cls("fashion_mnist").url_infos.values()
    }
    assert set(registered) == set(FASHION_FILES)
    for name in FASHION_FILES:
        data = (manual_dir / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == registered[name], name
        with open(os.path.join(DEBIAN_DIR, name), "rb") as f:
            assert gzip.decompress(data) == gzip.decompress(f.read())
    assert not [p for p in manual_dir.iterdir() if p.name not in FASHION_FILES]  # no temp files

    # A damaged copy in the manual dir is detected and replaced.
    (manual_dir / FASHION_FILES[3]).write_bytes(b"garbage")
    prepare_offline_fashion_mnist(tmp_path)
    data = (manual_dir / FASHION_FILES[3]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == registered[FASHION_FILES[3]]


def test_missing_source_without_prepared_copy(tmp_path):
    with pytest.raises(DataError, match=r"apt-get install -y dataset-fashion-mnist"):
        prepare_offline_fashion_mnist(tmp_path / "tfds", source_dir=tmp_path / "absent")


def test_prepared_copy_needs_no_source(fashion_mnist_data_dir, tmp_path):
    manual_dir = prepare_offline_fashion_mnist(
        fashion_mnist_data_dir, source_dir=tmp_path / "absent"
    )
    assert manual_dir.name == "fashion_mnist"


def test_tfds_preparation_messages_go_to_the_log_not_stdout(capsys, caplog):
    # TFDS announces a preparation with termcolor.cprint (print to stdout); the loader wraps
    # its TFDS calls in this context so that a first load leaves the caller's stdout clean.
    import termcolor

    from keras_vae.data import tfds_images

    with caplog.at_level(logging.INFO, logger=tfds_images.__name__):
        with tfds_images._tfds_prints_to_log():
            termcolor.cprint("Downloading and preparing dataset 29.45 MiB ...", attrs=["bold"])
            print("\nDataset fashion_mnist downloaded and prepared.", end="")
    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in caplog.records] == [
        "Downloading and preparing dataset 29.45 MiB ...",
        "Dataset fashion_mnist downloaded and prepared.",
    ]
    print("after")  # stdout is restored on exit
    assert capsys.readouterr().out == "after\n"


def test_unknown_tfds_dataset(tmp_path):
    with pytest.raises(DataError, match="tfds.list_builders"):
        load_tfds_images("no_such_dataset_xyz", "train", data_dir=tmp_path)
