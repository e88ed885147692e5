"""Tests of atac_gluon.data: CIFAR layouts and errors, digits, batch augmentation/iteration.

CIFAR tests build tiny fake releases (a few images per file, known pixels and
labels) in every distributed layout; nothing touches the network.
"""
import os
import pickle
import socket
import time

import mxnet as mx
import numpy as np
import pytest

from atac_gluon.data import (CIFAR_MEAN, CIFAR_STD, DIGITS_NUM_CLASSES, TRAIN_PAD, BatchIterator,
                             DataError, cifar_num_classes, crop_flip, draw_crop_flip,
                             load_cifar, load_digits32, random_crop_flip, to_normalized_nchw)
from atac_gluon.data import cifar
from atac_gluon.data.seeds import (AUGMENTATION_STREAM, GLOBAL_STREAM, INIT_STREAM,
                                   SHUFFLE_STREAM, derived_seed)
from tests.helpers.cifar_fakes import ARCHIVES, FOLDERS, TINY, fake_pixels, write_release


@pytest.fixture
def unreachable_repo(monkeypatch):
    """Point MXNet's download at a closed local port, so tests never hit the network."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:%d/' % port)


# --------------------------------------------------------------------------- CIFAR layouts


@pytest.mark.parametrize('where', ['parent', 'release-folder', 'parent-of-archive', 'archive'])
@pytest.mark.parametrize('kind', ['binary', 'python'])
@pytest.mark.parametrize('dataset', ['cifar10', 'cifar100'])
def test_every_layout_loads_images_and_labels(tmp_path, dataset, kind, where):
    expected = write_release(str(tmp_path), dataset, kind, archive='archive' in where)
    data_dir = {'parent': tmp_path, 'parent-of-archive': tmp_path,
                'release-folder': tmp_path / FOLDERS[dataset, kind],
                'archive': tmp_path / ARCHIVES[dataset, kind]}[where]
    for train in (True, False):
        images, label10, coarse, fine = expected[train]
        got_images, got_labels = load_cifar(dataset, str(data_dir), train=train)
        assert got_images.dtype == np.uint8 and got_images.shape == (len(images), 32, 32, 3)
        assert got_labels.dtype == np.int32
        np.testing.assert_array_equal(got_images, images)
        np.testing.assert_array_equal(got_labels, label10 if dataset == 'cifar10' else coarse)
        if dataset == 'cifar100':
            _, fine_labels = load_cifar(dataset, str(data_dir), train=train, fine_label=True)
            np.testing.assert_array_equal(fine_labels, fine)


@pytest.mark.parametrize('kind', ['binary', 'python'])
def test_chw_planes_become_hwc_pixels(tmp_path, kind):
    write_release(str(tmp_path), 'cifar10', kind)
    images, _ = load_cifar('cifar10', str(tmp_path), train=False)
    first = fake_pixels(TINY['cifar10', True] * 5, 1)[0]  # first test image, in file order
    assert images[0, 0, 0, 0] == first[0]                # R plane starts the record
    assert images[0, 0, 1, 0] == first[1]                # next byte: next column
    assert images[0, 1, 0, 0] == first[32]               # 32 bytes on: next row
    assert images[0, 0, 0, 1] == first[1024]             # G plane
    assert images[0, 31, 31, 2] == first[3071]           # last byte: B, bottom right


def test_cifar100_coarse_by_default_fine_on_request(tmp_path):
    expected = write_release(str(tmp_path), 'cifar100', 'binary')
    _, _, coarse, fine = expected[True]
    assert not np.array_equal(coarse, fine)
    np.testing.assert_array_equal(load_cifar('cifar100', str(tmp_path))[1], coarse)
    np.testing.assert_array_equal(load_cifar('cifar100', str(tmp_path), fine_label=True)[1], fine)
    assert cifar_num_classes('cifar100') == 20
    assert cifar_num_classes('cifar100', fine_label=True) == 100
    assert cifar_num_classes('cifar10', fine_label=True) == 10


def test_default_dir_is_mxnet_home_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv('MXNET_HOME', str(tmp_path))
    expected = write_release(str(tmp_path / 'datasets' / 'cifar10'), 'cifar10', 'binary')
    images, labels = load_cifar('cifar10', train=False)
    np.testing.assert_array_equal(images, expected[False][0])
    np.testing.assert_array_equal(labels, expected[False][1])


# --------------------------------------------------------------------------- CIFAR errors


@pytest.mark.usefixtures('unreachable_repo')
def test_empty_default_dir_fails_fast_naming_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('MXNET_HOME', str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        load_cifar('cifar100')
    message = str(err.value)
    assert time.perf_counter() - start < 10
    assert os.path.join(str(tmp_path), 'datasets', 'cifar100') in message
    assert 'download failed' in message and '--data-dir' in message
    # requests' wrapping is unwrapped: the innermost error says what failed
    assert 'Connection refused' in message and 'Max retries' not in message
    assert '\n' not in message
    assert capsys.readouterr().out == ''   # MXNet's retry chatter stays off stdout


def test_stalled_download_times_out(tmp_path, monkeypatch):
    # A server that accepts connections but never answers, like a black-holing proxy.
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen(16)
        monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:%d/' % server.getsockname()[1])
        monkeypatch.setenv('MXNET_HOME', str(tmp_path))
        monkeypatch.setattr(cifar, 'DOWNLOAD_TIMEOUT', 0.1)
        start = time.perf_counter()
        with pytest.raises(DataError, match='download failed'):
            load_cifar('cifar10')
    assert time.perf_counter() - start < 10


def test_unknown_dataset_lists_valid_names(tmp_path):
    with pytest.raises(DataError, match='cifar10, cifar100') as err:
        load_cifar('cifar1000', str(tmp_path))
    assert 'cifar1000' in str(err.value)


def test_truncated_binary_file_names_file(tmp_path):
    write_release(str(tmp_path), 'cifar10', 'binary')
    path = tmp_path / 'cifar-10-batches-bin' / 'data_batch_2.bin'
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match='not a whole number') as err:
        load_cifar('cifar10', str(tmp_path))
    assert str(path) in str(err.value)


def test_binary_file_short_by_whole_records_is_loaded_with_a_warning(tmp_path, caplog):
    write_release(str(tmp_path), 'cifar100', 'binary')
    path = tmp_path / 'cifar-100-binary' / 'test.bin'
    full = len(load_cifar('cifar100', str(tmp_path), train=False)[0])
    path.write_bytes(path.read_bytes()[:-3074])
    caplog.clear()
    images, _ = load_cifar('cifar100', str(tmp_path), train=False)
    assert len(images) == full - 1
    assert any(str(path) in r.getMessage() and 'partial copy' in r.getMessage()
               for r in caplog.records)


def test_counts_other_than_the_release_are_warned_about(tmp_path, caplog):
    write_release(str(tmp_path), 'cifar10', 'binary')
    images, _ = load_cifar('cifar10', str(tmp_path), train=False)
    assert 0 < len(images) < 10000
    assert any('10000 per file' in r.getMessage() for r in caplog.records)


def test_empty_file_names_file(tmp_path):
    write_release(str(tmp_path), 'cifar10', 'binary')
    path = tmp_path / 'cifar-10-batches-bin' / 'test_batch.bin'
    path.write_bytes(b'')
    with pytest.raises(DataError, match='0 bytes is not a whole number') as err:
        load_cifar('cifar10', str(tmp_path), train=False)
    assert str(path) in str(err.value)


@pytest.mark.parametrize('content', [b'garbage', None, 'missing-key', 'wrong-shape'],
                         ids=['garbage', 'truncated', 'missing-key', 'wrong-shape'])
def test_bad_pickle_names_file(tmp_path, content):
    write_release(str(tmp_path), 'cifar10', 'python')
    path = tmp_path / 'cifar-10-batches-py' / 'test_batch'
    pixels = fake_pixels(0, TINY['cifar10', False])
    content = {None: path.read_bytes()[:-50],
               'missing-key': pickle.dumps({b'data': pixels}),
               'wrong-shape': pickle.dumps({b'data': pixels[:, :1000], b'labels': [0, 1]}),
               }.get(content, content)
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_cifar('cifar10', str(tmp_path), train=False)
    assert str(path) in str(err.value)


def test_truncated_archive_names_archive(tmp_path):
    write_release(str(tmp_path), 'cifar100', 'python', archive=True)
    path = tmp_path / 'cifar-100-python.tar.gz'
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match='unreadable archive') as err:
        load_cifar('cifar100', str(tmp_path))
    assert str(path) in str(err.value)


def test_missing_file_in_release_folder_names_it(tmp_path):
    write_release(str(tmp_path), 'cifar10', 'binary')
    path = tmp_path / 'cifar-10-batches-bin' / 'data_batch_4.bin'
    path.unlink()
    with pytest.raises(DataError, match='missing') as err:
        load_cifar('cifar10', str(tmp_path))
    assert str(path) in str(err.value)
    assert load_cifar('cifar10', str(tmp_path), train=False)[0].shape[0] == 2


def test_nothing_found_names_directory(tmp_path):
    write_release(str(tmp_path), 'cifar10', 'binary')   # CIFAR-10 is no CIFAR-100
    with pytest.raises(DataError, match='no CIFAR-100 found in') as err:
        load_cifar('cifar100', str(tmp_path))
    assert str(tmp_path) in str(err.value)
    with pytest.raises(DataError, match='no such file or directory'):
        load_cifar('cifar10', str(tmp_path / 'absent'))


def test_normalisation_constants():
    assert CIFAR_MEAN == (0.4914, 0.4822, 0.4465)
    assert CIFAR_STD == (0.2023, 0.1994, 0.2010)


# --------------------------------------------------------------------------- digits


def test_digits_shapes_split_and_standardisation():
    train_x, train_y = load_digits32(train=True)
    val_x, val_y = load_digits32(train=False)
    assert train_x.shape == (1437, 3, 32, 32) and val_x.shape == (360, 3, 32, 32)
    assert train_x.dtype == val_x.dtype == np.float32
    assert train_y.dtype == val_y.dtype == np.int32
    assert DIGITS_NUM_CLASSES == 10
    assert set(train_y) == set(val_y) == set(range(10))
    assert np.bincount(val_y).min() >= 35            # stratified: ~36 per class
    assert abs(train_x.mean()) < 1e-4 and abs(train_x.std() - 1) < 1e-4
    assert abs(val_x.mean()) < 0.1                   # train statistics, so only close to 0


def test_digits_are_blocky_grey_and_deterministic():
    images, labels = load_digits32(train=False)
    np.testing.assert_array_equal(images[:, 0], images[:, 1])
    np.testing.assert_array_equal(images[:, 0], images[:, 2])
    # Nearest-neighbour upscaling: every 4x4 block is one 8x8 pixel.
    blocks = images[:, 0].reshape(-1, 8, 4, 8, 4)
    np.testing.assert_array_equal(blocks, np.broadcast_to(blocks[:, :, :1, :, :1], blocks.shape))
    again_images, again_labels = load_digits32(train=False)
    np.testing.assert_array_equal(images, again_images)
    np.testing.assert_array_equal(labels, again_labels)


# --------------------------------------------------------------------------- augmentation


def reference_crop_flip(batch, offsets, flips, pad):
    """Per-image gluoncv semantics: zero-pad, slice the crop, mirror columns."""
    height, width = batch.shape[1:3]
    out = []
    for image, (row, col), flip in zip(batch, offsets, flips):
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
        crop = padded[row:row + height, col:col + width]
        out.append(crop[:, ::-1] if flip else crop)
    return np.stack(out)


def random_batch(num=32, seed=0, shape=(32, 32, 3)):
    return np.random.RandomState(seed).randint(0, 256, (num,) + shape).astype(np.uint8)


def test_crop_flip_matches_per_image_reference():
    batch = random_batch()
    offsets, flips = draw_crop_flip(len(batch), TRAIN_PAD, 3)
    assert flips.any() and not flips.all()
    assert offsets.min() >= 0 and offsets.max() <= 2 * TRAIN_PAD
    expected = reference_crop_flip(batch, offsets, flips, TRAIN_PAD)
    np.testing.assert_array_equal(crop_flip(batch, offsets, flips, TRAIN_PAD), expected)
    np.testing.assert_array_equal(random_crop_flip(batch, TRAIN_PAD, 3), expected)


def test_crop_flip_nchw_matches_nhwc():
    batch = np.random.RandomState(1).randn(8, 3, 32, 32).astype(np.float32)
    nhwc = random_crop_flip(batch.transpose(0, 2, 3, 1), 4, 5)
    nchw = random_crop_flip(batch, 4, 5, layout='NCHW')
    assert nchw.dtype == np.float32 and nchw.flags.c_contiguous
    np.testing.assert_array_equal(nchw, nhwc.transpose(0, 3, 1, 2))


def test_crop_offsets_and_flips_cover_their_range():
    offsets, flips = draw_crop_flip(4000, TRAIN_PAD, 0)
    assert set(np.unique(offsets)) == set(range(2 * TRAIN_PAD + 1))
    assert 0.45 < flips.mean() < 0.55


def test_to_normalized_nchw_matches_manual_calculation():
    batch = random_batch(4)
    out = to_normalized_nchw(batch, CIFAR_MEAN, CIFAR_STD)
    assert out.dtype == np.float32 and out.shape == (4, 3, 32, 32) and out.flags.c_contiguous
    n, c, h, w = 2, 1, 5, 7
    manual = (batch[n, h, w, c] / 255.0 - CIFAR_MEAN[c]) / CIFAR_STD[c]
    assert out[n, c, h, w] == pytest.approx(manual, abs=1e-5)
    full = (batch.astype(np.float64) / 255 - CIFAR_MEAN) / CIFAR_STD
    np.testing.assert_allclose(out, full.transpose(0, 3, 1, 2), atol=1e-5)


# --------------------------------------------------------------------------- iterator


def cifar_like(num=100, seed=0):
    return random_batch(num, seed), np.arange(num) % 10


def epoch_batches(iterator, epoch):
    iterator.set_epoch(epoch)
    return [(data.asnumpy(), labels.asnumpy()) for data, labels in iterator]


def make_iterator(num_workers=0, shuffle=True, augment=True, last_batch='discard', seed=11):
    data, labels = cifar_like()
    return BatchIterator(data, labels, 16, shuffle, augment, CIFAR_MEAN, CIFAR_STD, seed,
                         last_batch=last_batch, num_workers=num_workers)


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for (data_a, labels_a), (data_b, labels_b) in zip(first, second):
        np.testing.assert_array_equal(data_a, data_b)
        np.testing.assert_array_equal(labels_a, labels_b)


def test_iterator_yields_float32_ndarrays():
    data, labels = next(iter(make_iterator()))
    assert isinstance(data, mx.nd.NDArray) and isinstance(labels, mx.nd.NDArray)
    assert data.dtype == np.float32 and labels.dtype == np.float32
    assert data.shape == (16, 3, 32, 32) and labels.shape == (16,)


def test_iterator_is_deterministic_per_seed_and_epoch():
    assert_same_batches(epoch_batches(make_iterator(), 3), epoch_batches(make_iterator(), 3))
    one, other = epoch_batches(make_iterator(), 3), epoch_batches(make_iterator(), 4)
    assert not np.array_equal(one[0][0], other[0][0])
    assert not np.array_equal(one[0][1], other[0][1])
    other_seed = epoch_batches(make_iterator(seed=12), 3)
    assert not np.array_equal(one[0][0], other_seed[0][0])


def test_iterator_workers_do_not_change_batches():
    assert_same_batches(epoch_batches(make_iterator(num_workers=0), 2),
                        epoch_batches(make_iterator(num_workers=2), 2))


def test_set_epoch_alone_reproduces_uninterrupted_run():
    uninterrupted = make_iterator(num_workers=2)
    for epoch in range(3):
        batches = epoch_batches(uninterrupted, epoch)
    assert_same_batches(batches, epoch_batches(make_iterator(), 2))


def test_discard_and_keep_batch_counts():
    discard, keep = make_iterator(), make_iterator(last_batch='keep')
    assert len(discard) == 6 and len(keep) == 7
    assert [len(labels) for _, labels in epoch_batches(discard, 0)] == [16] * 6
    assert [len(labels) for _, labels in epoch_batches(keep, 0)] == [16] * 6 + [4]


def test_validation_iterator_is_plain_normalisation_in_order():
    data, labels = cifar_like()
    iterator = make_iterator(shuffle=False, augment=False, last_batch='keep')
    batches = epoch_batches(iterator, 5)
    np.testing.assert_allclose(np.concatenate([d for d, _ in batches]),
                               to_normalized_nchw(data, CIFAR_MEAN, CIFAR_STD))
    np.testing.assert_array_equal(np.concatenate([lb for _, lb in batches]), labels)


def test_shuffled_epoch_visits_every_sample_once_with_its_label():
    data, labels = cifar_like()
    iterator = BatchIterator(data, labels, 16, True, False, CIFAR_MEAN, CIFAR_STD, 0,
                             last_batch='keep')
    batches = epoch_batches(iterator, 1)
    seen = np.concatenate([d for d, _ in batches])
    seen_labels = np.concatenate([lb for _, lb in batches])
    normalised = to_normalized_nchw(data, CIFAR_MEAN, CIFAR_STD)
    # Recover each yielded sample's index from its pixels, then check its label.
    index = [int(np.argmin(np.abs(normalised - sample).sum(axis=(1, 2, 3)))) for sample in seen]
    assert sorted(index) == list(range(len(data))) and index != sorted(index)
    np.testing.assert_array_equal(seen_labels, labels[index])


def test_float_nchw_data_is_cropped_without_renormalising():
    images, labels = load_digits32(train=False)
    iterator = BatchIterator(images[:40], labels[:40], 8, False, True, None, None, 4,
                             last_batch='keep', num_workers=2)
    batches = epoch_batches(iterator, 0)
    first = batches[0][0]
    # The documented derivation: (seed, epoch, augmentation stream, batch index).
    rng = derived_seed(4, 0, AUGMENTATION_STREAM, 0, bits=128)
    offsets, flips = draw_crop_flip(8, TRAIN_PAD, rng)
    expected = reference_crop_flip(images[:8].transpose(0, 2, 3, 1), offsets, flips, TRAIN_PAD)
    np.testing.assert_array_equal(first, expected.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(batches[0][1], labels[:8])


def test_breaking_out_of_threaded_iteration_stops_cleanly():
    iterator = make_iterator(num_workers=2)
    for index, _ in enumerate(iterator):
        if index == 1:
            break
    assert len(epoch_batches(iterator, 0)) == len(iterator)


def test_iterator_rejects_bad_arguments():
    data, labels = cifar_like(10)
    with pytest.raises(ValueError, match='mean and std'):
        BatchIterator(data, labels, 4)
    with pytest.raises(ValueError, match='last_batch'):
        BatchIterator(data, labels, 4, mean=CIFAR_MEAN, std=CIFAR_STD, last_batch='rollover')
    with pytest.raises(ValueError, match='labels'):
        BatchIterator(data, labels[:5], 4, mean=CIFAR_MEAN, std=CIFAR_STD)
    with pytest.raises(ValueError, match='data must be'):
        BatchIterator(data.astype(np.float64), labels, 4)


# --------------------------------------------------------------------------- throughput


def images_per_second(step, batch_size, seconds=0.3):
    """Run ``step`` repeatedly for about ``seconds``; return images per second."""
    step()  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        count += batch_size
    return count / (time.perf_counter() - start)


def test_augmentation_throughput():
    batch = random_batch(128)
    rng = np.random.default_rng(0)
    rate = images_per_second(
        lambda: to_normalized_nchw(random_crop_flip(batch, TRAIN_PAD, rng), CIFAR_MEAN, CIFAR_STD),
        len(batch))
    data, labels = cifar_like(128 * 8)
    rates = {}
    for workers in (0, 2):
        iterator = BatchIterator(data, labels, 128, True, True, CIFAR_MEAN, CIFAR_STD, 0,
                                 num_workers=workers)
        rates[workers] = images_per_second(lambda: sum(1 for _ in iterator), len(data))
    print('\naugment + normalise, batch 128: %.0f images/s; BatchIterator to NDArray: '
          '%.0f images/s (0 workers), %.0f images/s (2 workers)' % (rate, rates[0], rates[2]))
    # Training consumes ~350 images/s on this 2-core machine.
    assert rate > 2000 and min(rates.values()) > 2000


# --------------------------------------------------------------------------- seeds


def test_derived_seeds_are_fixed_sized_and_distinct_per_stream():
    streams = (SHUFFLE_STREAM, AUGMENTATION_STREAM, GLOBAL_STREAM, INIT_STREAM)
    assert len(set(streams)) == len(streams)
    seeds = {derived_seed(seed, epoch, stream, *keys)
             for seed in (0, 1) for epoch in (0, 1) for stream in streams for keys in ((), (0,))}
    assert len(seeds) == 2 * 2 * 4 * 2 and all(0 <= s < 2 ** 31 for s in seeds)
    assert derived_seed(3, 2, SHUFFLE_STREAM) == derived_seed(3, 2, SHUFFLE_STREAM)
    for bits in (1, 31, 32, 33, 64, 128):
        assert 0 <= derived_seed(3, 2, SHUFFLE_STREAM, bits=bits) < 2 ** bits
    # the documented derivation: a node of the seed's SeedSequence tree, words little-endian
    words = np.random.SeedSequence(3, spawn_key=(2, SHUFFLE_STREAM)).generate_state(4)
    assert derived_seed(3, 2, SHUFFLE_STREAM) == words[0] & 0x7fffffff
    assert derived_seed(3, 2, SHUFFLE_STREAM, bits=128) == sum(
        int(word) << (32 * i) for i, word in enumerate(words))
    assert derived_seed(3, 2, SHUFFLE_STREAM, 0) != derived_seed(3, 2, SHUFFLE_STREAM)
    with pytest.raises(ValueError, match='>= 0'):
        derived_seed(3, -1, SHUFFLE_STREAM)
    with pytest.raises(ValueError, match='bits'):
        derived_seed(3, 2, SHUFFLE_STREAM, bits=0)
