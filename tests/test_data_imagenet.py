"""Tests of atac_gluon.data.recordio (RecordIO header statistics and checks) and
atac_gluon.data.imagenet: image-folder statistics, both iterator kinds (shapes, lengths,
labels, padding, seeds) and corrupt-file errors.

Everything runs on tiny fake copies (40-pixel JPEGs) written by ``imagenet_fakes``.
"""
import os
import struct

import mxnet as mx
import numpy as np
import pytest

from atac_gluon.data import DataError, imagenet
from atac_gluon.data.imagenet import folder_iterators, folder_stats, rec_iterators, val_resize
from atac_gluon.data.recordio import RECORDIO_MAGIC, rec_num_samples, rec_stats
from atac_gluon.data.seeds import AUGMENTATION_STREAM, SHUFFLE_STREAM, derived_seed
from tests.helpers.imagenet_fakes import (corrupt_record, read_idx, write_image_folder,
                                          write_rec_pair)

INPUT = 32
CROP = 0.875


def rec_pairs(tmp_path, train=10, val=7, classes=4):
    """Paths of a fake train and val RecordIO pair (labels i % classes)."""
    train_rec, train_idx = write_rec_pair(str(tmp_path / 'train'), train, classes)
    val_rec, val_idx = write_rec_pair(str(tmp_path / 'val'), val, classes, seed=1)
    return train_rec, train_idx, val_rec, val_idx


def drain(batches):
    """[(data numpy, label numpy)] of one pass."""
    return [(data.asnumpy(), label.asnumpy()) for data, label in batches]


def rewrite_idx(idx_path, entries):
    with open(idx_path, 'w') as f:
        f.writelines('%d\t%d\n' % entry for entry in entries)


# --------------------------------------------------------------------------- RecordIO stats


def test_val_resize():
    assert val_resize(224, 0.875) == 256
    assert val_resize(224, 0) == 256
    assert val_resize(INPUT, CROP) == 37


def test_rec_stats_counts_records_and_classes(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 11, 5)
    assert rec_stats(rec, idx) == (11, 5)
    assert rec_num_samples(idx) == 11
    # the scripts read the statistics through the pipelines' module
    assert imagenet.rec_stats is rec_stats and imagenet.RECORDIO_MAGIC == RECORDIO_MAGIC


def test_rec_stats_takes_the_largest_label_wherever_it_is(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 5, 0, labels=[1, 8, 0, 2, 3])
    assert rec_stats(rec, idx) == (5, 9)


def test_rec_stats_reads_first_label_of_arrays_and_split_records(tmp_path):
    rec, idx = str(tmp_path / 'a.rec'), str(tmp_path / 'a.idx')
    writer = mx.recordio.MXIndexedRecordIO(idx, rec, 'w')
    # id 0xced7230a puts the magic inside the IRHeader: the writer splits that record.
    writer.write_idx(0, mx.recordio.pack(mx.recordio.IRHeader(0, 5.0, RECORDIO_MAGIC, 0), b'x'))
    writer.write_idx(1, mx.recordio.pack(mx.recordio.IRHeader(0, 0, 1, 0), b'y' * 9))
    writer.write_idx(2, mx.recordio.pack(mx.recordio.IRHeader(0, np.array([7., 30.]), 2, 0), b''))
    writer.close()
    with open(rec, 'rb') as f:
        assert struct.unpack('<II', f.read(8))[1] >> 29 == 1  # really split: a first part
    assert rec_stats(rec, idx) == (3, 8)


def test_rec_paths_expand_user(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    write_rec_pair(str(tmp_path / 'a'), 3, 3)
    assert rec_stats('~/a.rec', '~/a.idx') == (3, 3)


def test_missing_files_are_named(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 3, 3)
    os.remove(idx)
    with pytest.raises(DataError, match='a.idx: no such file'):
        rec_stats(rec, idx)
    with pytest.raises(DataError, match='a.idx: no such file'):
        rec_num_samples(idx)
    with pytest.raises(DataError, match='nothing.rec: no such file'):
        rec_stats(str(tmp_path / 'nothing.rec'), idx)


def test_truncated_rec_is_named(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 6, 3)
    with open(rec, 'r+b') as f:
        f.truncate(os.path.getsize(rec) // 2)
    with pytest.raises(DataError, match=r'a\.rec: record \d+ at offset \d+ .* the end of'):
        rec_stats(rec, idx)


def test_offset_without_a_frame_is_named(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 4, 3)
    entries = read_idx(idx)
    entries[2] = (entries[2][0], entries[2][1] + 4)
    rewrite_idx(idx, entries)
    with pytest.raises(DataError, match=r'a\.rec: record 2 .*no RecordIO frame.*magic'):
        rec_stats(rec, idx)


def test_bad_magic_is_named(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 4, 3)
    with open(rec, 'r+b') as f:
        f.seek(read_idx(idx)[1][1])
        f.write(b'\xde\xad\xbe\xef')
    with pytest.raises(DataError, match=r'a\.rec: record 1 .*magic 0xefbeadde'):
        rec_stats(rec, idx)


@pytest.mark.parametrize('change, problem', [
    (lambda e: e[:-2], r'the records .*a\.idx lists end at byte \d+ but the file has'),
    (lambda e: e[:2] + e[3:], r'bytes \d+\.\.\d+ hold records that .*a\.idx does not list'),
    (lambda e: e + [(9, e[1][1])], r'record 9 at offset \d+ overlaps .*repeated line'),
], ids=['last-records-missing', 'middle-record-missing', 'repeated-offset'])
def test_idx_must_list_every_record_once(tmp_path, change, problem):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 5, 3)
    rewrite_idx(idx, change(read_idx(idx)))
    with pytest.raises(DataError, match=r'a\.rec: ' + problem):
        rec_stats(rec, idx)


@pytest.mark.parametrize('line', ['7', 'seven\t8', '1\t2\t3'])
def test_unparsable_idx_line_is_named(tmp_path, line):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 3, 3)
    with open(idx, 'a') as f:
        f.write(line + '\n')
    with pytest.raises(DataError, match=r'a\.idx: line 4 is'):
        rec_stats(rec, idx)


def test_empty_idx_is_an_error(tmp_path):
    rec, idx = write_rec_pair(str(tmp_path / 'a'), 3, 3)
    open(idx, 'w').close()
    with pytest.raises(DataError, match='a.idx: lists no records'):
        rec_stats(rec, idx)
    with pytest.raises(DataError, match='a.idx: lists no records'):
        rec_num_samples(idx)


# --------------------------------------------------------------------------- folder stats


def test_folder_stats(tmp_path):
    num_train, num_val, names = write_image_folder(str(tmp_path), classes=3)
    assert folder_stats(str(tmp_path / 'train')) == (num_train, 3, names)
    assert folder_stats(str(tmp_path / 'val')) == (num_val, 3, names)
    assert names == sorted(names)


@pytest.mark.filterwarnings('ignore:Ignoring .* which is not a directory')
def test_folder_stats_errors_name_the_folder(tmp_path):
    with pytest.raises(DataError, match='nope: no such directory'):
        folder_stats(str(tmp_path / 'nope'))
    (tmp_path / 'flat').mkdir()
    (tmp_path / 'flat' / 'x.jpg').write_bytes(b'')
    with pytest.raises(DataError, match='flat: no class subfolders'):
        folder_stats(str(tmp_path / 'flat'))
    (tmp_path / 'bare' / 'n01').mkdir(parents=True)
    with pytest.raises(DataError, match='bare: no .jpg'):
        folder_stats(str(tmp_path / 'bare'))


def test_folder_iterators_need_train_and_val(tmp_path):
    write_image_folder(str(tmp_path))
    os.rename(tmp_path / 'val', tmp_path / 'validation')
    with pytest.raises(DataError, match='val: no such directory'):
        folder_iterators(str(tmp_path), 2, 0, INPUT, CROP)


def test_folder_iterators_refuse_different_class_sets(tmp_path):
    write_image_folder(str(tmp_path))
    os.rename(tmp_path / 'val' / 'n00000007', tmp_path / 'val' / 'other')
    with pytest.raises(DataError, match='val: class folders differ'):
        folder_iterators(str(tmp_path), 2, 0, INPUT, CROP)


# --------------------------------------------------------------------------- iterators


def check_batches(batches, sizes):
    for (data, label), size in zip(batches, sizes):
        assert data.shape == (size, 3, INPUT, INPUT) and data.dtype == np.float32
        assert label.shape == (size,) and label.dtype == np.float32
        assert np.isfinite(data).all() and abs(data.mean()) < 3
    assert len(batches) == len(sizes)


def test_rec_iterators_shapes_lengths_and_labels(tmp_path):
    # one class per record, so labels identify records
    train, val = rec_iterators(*rec_pairs(tmp_path, 10, 7, 10), batch_size=4, num_workers=0,
                               input_size=INPUT, crop_ratio=CROP, seed=3)
    assert (len(train), len(val)) == (3, 2)
    assert (train.num_samples, val.num_samples) == (10, 7)
    orders = []
    for epoch in (0, 1, 2, 1):
        train.set_epoch(epoch)
        batches = drain(train)
        check_batches(batches, [4, 4, 4])  # the last batch filled up with 2 more records
        labels = np.concatenate([label for _, label in batches]).astype(int).tolist()
        assert sorted(labels[:10]) == list(range(10)) and set(labels[10:]) <= set(range(10))
        orders.append(labels)
    assert orders[0] != orders[1] != orders[2]
    assert orders[1] == orders[3]  # set_epoch alone reproduces an epoch's shuffle
    for _ in range(2):  # repeated validation passes, padding of the last batch dropped
        batches = drain(val)
        check_batches(batches, [4, 3])
        labels = np.concatenate([label for _, label in batches])
        np.testing.assert_array_equal(labels, np.arange(7))


def test_rec_iterators_pass_the_official_parameters(tmp_path, monkeypatch):
    made = []
    real = mx.io.ImageRecordIter

    def recording(**kwargs):
        made.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(mx.io, 'ImageRecordIter', recording)
    paths = rec_pairs(tmp_path, 4, 4, 2)
    train, val = rec_iterators(*paths, batch_size=2, num_workers=0, input_size=INPUT,
                               crop_ratio=0, seed=5)
    drain(train)
    drain(val)
    normalisation = dict(mean_r=123.68, mean_g=116.779, mean_b=103.939, std_r=58.393,
                         std_g=57.12, std_b=57.375)
    common = dict(normalisation, preprocess_threads=1, batch_size=2, verbose=False,
                  data_shape=(3, INPUT, INPUT))
    seeds = {'seed': derived_seed(5, 0, SHUFFLE_STREAM),
             'seed_aug': derived_seed(5, 0, AUGMENTATION_STREAM)}
    assert made[0] == dict(common, path_imgrec=paths[0], path_imgidx=paths[1], shuffle=True,
                           rand_mirror=True, random_resized_crop=True,
                           max_aspect_ratio=4 / 3, min_aspect_ratio=3 / 4, max_random_area=1,
                           min_random_area=0.08, brightness=0.4, saturation=0.4,
                           contrast=0.4, pca_noise=0.1, **seeds)
    assert made[1] == dict(common, path_imgrec=paths[2], path_imgidx=paths[3], shuffle=False,
                           resize=37)


def test_rec_batches_stay_valid_after_later_batches(tmp_path):
    train, _ = rec_iterators(*rec_pairs(tmp_path, 12, 2, 12), batch_size=2, num_workers=2,
                             input_size=INPUT, crop_ratio=CROP, seed=0)
    kept = list(train)
    assert len(kept) == 6
    labels = np.concatenate([label.asnumpy() for _, label in kept])
    assert sorted(labels.astype(int).tolist()) == list(range(12))


def test_rec_iterators_check_files_first(tmp_path):
    paths = list(rec_pairs(tmp_path, 4, 4, 2))
    os.remove(paths[3])
    with pytest.raises(DataError, match=r'val\.idx: no such file'):
        rec_iterators(*paths, batch_size=2, num_workers=0, input_size=INPUT, crop_ratio=CROP,
                      seed=0)


def test_rec_iterator_refuses_a_batch_count_other_than_len(tmp_path):
    paths = rec_pairs(tmp_path, 8, 4, 2)
    with open(paths[3], 'a') as f:  # val.idx now claims 6 records: 2 batches of 4
        f.write('%d\t%d\n%d\t%d\n' % ((9, 0) * 2))
    _, val = rec_iterators(*paths, batch_size=4, num_workers=0, input_size=INPUT,
                           crop_ratio=CROP, seed=0)
    assert len(val) == 2
    with pytest.raises(DataError, match=r'val\.rec: ImageRecordIter gave 1 batches .*val\.idx'):
        drain(val)


@pytest.mark.parametrize('bad', [0, 9])  # fails when the iterator is built / while iterating
def test_corrupt_record_names_the_rec(tmp_path, bad):
    paths = rec_pairs(tmp_path, 12, 4, 3)
    corrupt_record(paths[0], paths[1], bad)
    train, _ = rec_iterators(*paths, batch_size=4, num_workers=1, input_size=INPUT,
                             crop_ratio=CROP, seed=0)
    with pytest.raises(DataError, match=r'train\.rec: reading the records failed.*\(\S'):
        drain(train)


def test_folder_iterators_shapes_lengths_and_labels(tmp_path):
    write_image_folder(str(tmp_path), classes=3, per_class_train=4, per_class_val=3)
    train, val = folder_iterators(str(tmp_path), batch_size=5, num_workers=0, input_size=INPUT,
                                  crop_ratio=CROP)
    assert (len(train), len(val)) == (2, 2)  # 12 train: last 2 discarded; 9 val: 5 + 4
    assert (train.num_samples, val.num_samples) == (12, 9)
    train.set_epoch(0)
    batches = drain(train)
    check_batches(batches, [5, 5])
    labels = np.concatenate([label for _, label in batches])
    assert set(labels.astype(int)) <= {0, 1, 2}
    batches = drain(val)
    check_batches(batches, [5, 4])
    labels = np.concatenate([label for _, label in batches])
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 3))  # sorted class folders
    np.testing.assert_array_equal(drain(val)[1][0], batches[1][0])  # no random validation


def test_folder_paths_expand_user(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    write_image_folder(str(tmp_path / 'imagenet'), classes=2, per_class_train=2, per_class_val=1)
    assert folder_stats('~/imagenet/train')[:2] == (4, 2)
    train, val = folder_iterators('~/imagenet', 2, 0, INPUT, CROP)
    assert (len(train), len(val)) == (2, 1)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_corrupt_jpeg_names_the_file(tmp_path, num_workers):
    write_image_folder(str(tmp_path), classes=2, per_class_train=3, per_class_val=1)
    bad = tmp_path / 'train' / 'n00001007' / '1.jpg'
    bad.write_bytes(b'\xff\xd8 this is not a jpeg' * 10)
    train, val = folder_iterators(str(tmp_path), batch_size=2, num_workers=num_workers,
                                  input_size=INPUT, crop_ratio=CROP)
    assert len(drain(val)) == 1
    with pytest.raises(DataError, match=r'n00001007/1\.jpg: cannot decode image \(\S'):
        drain(train)
