"""Fashion-MNIST: the IDX reader on files the tests write (gzipped and not, and every kind of
garbage, through train_cifar.py: exit 2 naming the file), the input the CIFAR host gets (and
predict's, the same), the real files (skipped with the reason where the Debian package is
missing, failing instead under ATAC_REQUIRE_FASHION_MNIST=1, as CI sets), and train_cifar.py
end to end on a small subset of them, killed and resumed."""
import gzip
import os
import shutil
import struct

import cv2
import mxnet as mx
import numpy as np
import pytest

from atac_gluon.data import fashion_mnist
from atac_gluon.data.errors import DataError
from atac_gluon.data.fashion_mnist import (FASHION_MNIST_DIR, FASHION_MNIST_MEAN,
                                           FASHION_MNIST_STD, load_fashion_mnist,
                                           load_fashion_mnist32, read_idx, write_idx)
from atac_gluon.data.pipelines import balanced_subset, calibration_data
from atac_gluon.data.pipelines import image_input
from atac_gluon.predict import class_names, read_image
from tests.helpers.scripts import comparable, kill_and_resume, load, records, run

SCRIPT = 'train_cifar.py'
NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte',
         't10k-labels-idx1-ubyte')
REAL_FILES = [os.path.join(FASHION_MNIST_DIR, name + '.gz') for name in NAMES]


def real_files():
    """Skip (with the reason) where the Debian package is missing, fail under
    ATAC_REQUIRE_FASHION_MNIST=1."""
    missing = [path for path in REAL_FILES if not os.path.isfile(path)]
    if missing:
        reason = ('%s missing: apt-get install dataset-fashion-mnist' % ', '.join(missing))
        if os.environ.get('ATAC_REQUIRE_FASHION_MNIST') == '1':
            pytest.fail('ATAC_REQUIRE_FASHION_MNIST=1 but ' + reason)
        pytest.skip(reason)
    return FASHION_MNIST_DIR


def fake_split(count, seed):
    rng = np.random.RandomState(seed)
    return (rng.randint(0, 256, size=(count, 28, 28)).astype(np.uint8),
            (np.arange(count) % 10).astype(np.uint8))


def write_copy(folder, gz=True, train=(40, 0), test=(20, 1)):
    """Four IDX files of random images in ``folder``; returns {base name: array}."""
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for prefix, (count, seed) in (('train', train), ('t10k', test)):
        images, labels = fake_split(count, seed)
        arrays['%s-images-idx3-ubyte' % prefix] = images
        arrays['%s-labels-idx1-ubyte' % prefix] = labels
    for name, array in arrays.items():
        write_idx(os.path.join(folder, name + ('.gz' if gz else '')), array)
    return arrays


# --------------------------------------------------------------------------- the reader


@pytest.mark.parametrize('gz', [True, False])
def test_reads_what_was_written(tmp_path, gz):
    arrays = write_copy(str(tmp_path), gz=gz)
    for train, prefix in ((True, 'train'), (False, 't10k')):
        images, labels = load_fashion_mnist(str(tmp_path), train=train)
        np.testing.assert_array_equal(images, arrays['%s-images-idx3-ubyte' % prefix])
        np.testing.assert_array_equal(labels, arrays['%s-labels-idx1-ubyte' % prefix])
        assert labels.dtype == np.int32


def test_the_uncompressed_file_wins_and_the_header_is_big_endian(tmp_path):
    arrays = write_copy(str(tmp_path), gz=True)
    plain = arrays['train-labels-idx1-ubyte'][::-1].copy()
    write_idx(str(tmp_path / 'train-labels-idx1-ubyte'), plain)
    np.testing.assert_array_equal(load_fashion_mnist(str(tmp_path))[1], plain)
    raw = (tmp_path / 'train-labels-idx1-ubyte').read_bytes()
    assert raw[:8] == b'\x00\x00\x08\x01' + struct.pack('>I', 40)


def test_network_input_pads_to_32_and_replicates_the_channel(tmp_path):
    arrays = write_copy(str(tmp_path))
    images, labels = load_fashion_mnist32(str(tmp_path))
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    raw = arrays['train-images-idx3-ubyte']
    for channel in range(3):
        np.testing.assert_array_equal(images[:, 2:30, 2:30, channel], raw)
    assert not images[:, :2].any() and not images[:, :, 30:].any()
    # one channel in memory: the three are a view of it
    assert images.strides[-1] == 0


def test_balanced_subset_takes_every_class_in_turn():
    labels = np.array([3, 3, 3, 1, 1, 2, 3, 2])
    assert list(balanced_subset(labels, 3)) == [0, 3, 5]   # the first of each class
    assert list(balanced_subset(labels, 5)) == [0, 1, 3, 4, 5]
    assert list(balanced_subset(labels, 0)) == list(range(8))
    assert set(balanced_subset(labels, 4)) <= set(balanced_subset(labels, 6))


def test_predict_prepares_an_image_as_the_validation_batches(tmp_path):
    """A test image saved as a PNG and read back by predict gives the network the same input
    as the validation pipeline; the class names are the data set's."""
    write_copy(str(tmp_path))
    images, labels = load_fashion_mnist32(str(tmp_path), train=False)
    calib, val, classes = calibration_data('fashion-mnist', str(tmp_path), batch_size=8,
                                           num_batches=2)
    assert classes == 10 and len(calib) == 2 and calib[0][0].shape == (8, 3, 32, 32)
    first = next(iter(val))[0].asnumpy()[0]
    path = str(tmp_path / 'first.png')
    cv2.imwrite(path, np.ascontiguousarray(images[0, 2:30, 2:30, 0]))
    np.testing.assert_allclose(image_input(read_image(path), 'fashion-mnist')[0], first,
                               atol=1e-6)
    assert class_names(10, 'fashion-mnist')[9] == 'Ankle boot'


# --------------------------------------------------------------------------- bad files


def _replace(path, raw):
    with (gzip.open if path.endswith('.gz') else open)(path, 'wb') as f:
        f.write(raw)


def _header(kind, ndim, *dims):
    return bytes((0, 0, kind, ndim)) + struct.pack('>%dI' % len(dims), *dims)


# (file to spoil, its new content or a function of the old bytes, message)
GARBAGE = {
    'bad magic': ('train-images-idx3-ubyte.gz', lambda raw: b'\x01\x02' + raw[2:],
                  'not an IDX file (bad magic number 0102'),
    'labels as images': ('train-images-idx3-ubyte.gz', lambda raw: _header(8, 1, 40) + bytes(40),
                         'with 1 dimensions, expected unsigned bytes (0x08) with 3'),
    'int32 type': ('train-labels-idx1-ubyte.gz', lambda raw: _header(0x0c, 1, 40) + bytes(160),
                   'IDX file of type 0x0c'),
    'wrong image size': ('train-images-idx3-ubyte.gz',
                         lambda raw: _header(8, 3, 40, 27, 28) + bytes(40 * 27 * 28),
                         'images of 27x28 pixels'),
    'short payload': ('train-images-idx3-ubyte.gz', lambda raw: raw[:-100],
                      'the header 40x28x28 says 31360 (truncated)'),
    'trailing bytes': ('t10k-labels-idx1-ubyte.gz', lambda raw: raw + b'\x00',
                       '21 data bytes, the header 20 says 20 (trailing bytes)'),
    'short header': ('t10k-images-idx3-ubyte.gz', lambda raw: raw[:10],
                     'truncated IDX header (10 bytes)'),
    'count mismatch': ('train-labels-idx1-ubyte.gz', lambda raw: _header(8, 1, 39) + raw[8:-1],
                       '39 labels for the 40 images of'),
    'label out of range': ('t10k-labels-idx1-ubyte.gz',
                           lambda raw: raw[:-1] + b'\x0a', 'labels outside 0..9 (label 10'),
    'empty file': ('t10k-labels-idx1-ubyte.gz', lambda raw: b'', 'bad magic number'),
}


@pytest.fixture
def script():
    return load(SCRIPT)


def _fails_naming(script, capsys, tmp_path, args, message, named=None):
    code = script.run_main(script.main, ['--dataset', 'fashion-mnist', '--save-dir',
                                         str(tmp_path / 'run'), '-j', '0'] + args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err[-1].startswith('error: ') and message in err[-1], err[-1]
    if named:
        assert named in err[-1]
    assert not (tmp_path / 'run').exists()
    return err[-1]


@pytest.mark.parametrize('kind', sorted(GARBAGE))
@pytest.mark.parametrize('gz', [True, False], ids=['gzipped', 'plain'])
def test_garbage_files_exit_2_naming_the_file(script, tmp_path, capsys, kind, gz):
    data = tmp_path / 'data'
    write_copy(str(data), gz=gz)
    name, spoil, message = GARBAGE[kind]
    path = str(data / (name if gz else name[:-3]))
    with (gzip.open if gz else open)(path, 'rb') as f:
        raw = f.read()
    _replace(path, spoil(raw))
    _fails_naming(script, capsys, tmp_path, ['--data-dir', str(data)], message, named=path)


@pytest.mark.parametrize('spoil,message', [
    (lambda raw: raw[:len(raw) // 2], 'unreadable'),               # a gzip stream cut short
    (lambda raw: raw[:20] + bytes(len(raw) - 20), 'unreadable'),   # deflate data zeroed
    (lambda raw: b'PK' + raw[2:], 'unreadable'),                   # not gzip at all
])
def test_corrupt_gzip_exits_2_naming_the_file(script, tmp_path, capsys, spoil, message):
    data = tmp_path / 'data'
    write_copy(str(data))
    path = data / 'train-images-idx3-ubyte.gz'
    path.write_bytes(spoil(path.read_bytes()))
    _fails_naming(script, capsys, tmp_path, ['--data-dir', str(data)], message, named=str(path))


def test_missing_files_name_the_debian_package(script, tmp_path, capsys, monkeypatch):
    data = tmp_path / 'data'
    write_copy(str(data))
    os.remove(str(data / 't10k-labels-idx1-ubyte.gz'))
    line = _fails_naming(script, capsys, tmp_path, ['--data-dir', str(data)],
                         'apt-get install dataset-fashion-mnist')
    assert 't10k-labels-idx1-ubyte[.gz] missing' in line and str(data) in line
    # the default folder (Debian's) missing altogether
    monkeypatch.setattr(fashion_mnist, 'FASHION_MNIST_DIR', str(tmp_path / 'nowhere'))
    line = _fails_naming(script, capsys, tmp_path, [], 'apt-get install dataset-fashion-mnist')
    assert str(tmp_path / 'nowhere') in line


def test_subset_larger_than_the_split_exits_2(script, tmp_path, capsys):
    data = tmp_path / 'data'
    write_copy(str(data))
    _fails_naming(script, capsys, tmp_path, ['--data-dir', str(data), '--val-subset', '21'],
                  '--val-subset 21: the validation split has 20 samples')
    _fails_naming(script, capsys, tmp_path, ['--data-dir', str(data), '--train-subset', '-1'],
                  '--train-subset must be a non-negative integer')


def test_normalization_flag_chooses_the_constants(script, tmp_path, capsys):
    """--normalization cifar feeds Fashion-MNIST with CIFAR-10's constants (the official
    script's, README "The input BatchNorm"); it is refused where it would change nothing."""
    import logging
    from atac_gluon.data.cifar import CIFAR_MEAN, CIFAR_STD
    from atac_gluon.data.pipelines import cifar_batches
    write_copy(str(tmp_path))
    images, _ = load_fashion_mnist32(str(tmp_path), train=False)
    log = logging.getLogger('atac')
    for normalization, mean, std in (('dataset', FASHION_MNIST_MEAN, FASHION_MNIST_STD),
                                     ('cifar', CIFAR_MEAN, CIFAR_STD)):
        _, val, _ = cifar_batches('fashion-mnist', str(tmp_path), 8, False, 0, 0, log,
                                  normalization=normalization)
        first = next(iter(val))[0].asnumpy()[0]
        want = (images[0].transpose(2, 0, 1) / 255.0 - np.array(mean)[:, None, None]) \
            / np.array(std)[:, None, None]
        np.testing.assert_allclose(first, want, rtol=1e-5, atol=1e-5)
    _fails_naming(script, capsys, tmp_path, ['--data-dir', str(tmp_path), '--normalization',
                                             'imagenet'],
                  "--normalization must be one of dataset, cifar, got 'imagenet'")
    assert script.run_main(script.main, ['--dataset', 'digits', '--normalization', 'cifar',
                                         '--save-dir', str(tmp_path / 'run')]) == 2
    assert '--normalization cifar is for --dataset fashion-mnist' in capsys.readouterr().err


def test_read_idx_refuses_a_directory(tmp_path):
    with pytest.raises(DataError, match='unreadable'):
        read_idx(str(tmp_path), 1)


# --------------------------------------------------------------------------- the real files


def test_real_files_gzipped_and_not(tmp_path):
    folder = real_files()
    images, labels = load_fashion_mnist(folder, train=True)
    test_images, test_labels = load_fashion_mnist(folder, train=False)
    assert images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert list(np.bincount(labels)) == [6000] * 10
    assert list(np.bincount(test_labels)) == [1000] * 10
    # the same data from uncompressed copies
    for name in NAMES[2:]:
        with gzip.open(os.path.join(folder, name + '.gz'), 'rb') as src, \
                open(str(tmp_path / name), 'wb') as dst:
            shutil.copyfileobj(src, dst)
    plain_images, plain_labels = load_fashion_mnist(str(tmp_path), train=False)
    np.testing.assert_array_equal(plain_images, test_images)
    np.testing.assert_array_equal(plain_labels, test_labels)


def test_normalisation_constants_are_the_training_sets():
    """The stated constants are the mean and std of the training images as the network gets
    them for validation (padded to 32 x 32, [0, 1]), to the 4 decimals written."""
    images, _ = load_fashion_mnist32(real_files(), train=True)
    pixels = images[..., 0].astype(np.float64) / 255.0
    mean, std = pixels.mean(), pixels.std()
    assert FASHION_MNIST_MEAN == (round(mean, 4),) * 3
    assert FASHION_MNIST_STD == (round(std, 4),) * 3


@pytest.mark.slow
def test_train_kill_resume_on_a_real_subset(tmp_path):
    """train_cifar.py --dataset fashion-mnist on 384 real training images (the ReLU host, the
    fastest): it learns, and a run killed after its second epoch and resumed ends as the
    uninterrupted one."""
    folder = real_files()
    args = ['--dataset', 'fashion-mnist', '--data-dir', folder, '--train-subset', '384',
            '--val-subset', '200', '--blocks', '1', '--act-type', 'relu', '--input-bn-from-data',
            '--mode', 'hybrid', '-j', '0', '--lr', '0.1', '--batch-size', '64',
            '--num-epochs', '4', '--seed', '1']
    whole, broken = tmp_path / 'whole', tmp_path / 'broken'
    proc = run(SCRIPT, args + ['--save-dir', str(whole), '--save-plot-dir', str(whole)],
               tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'fashion-mnist: 384 training / 200 validation samples' in proc.stderr
    lines = records(whole)
    assert [r['dataset'] for r in lines] == ['fashion-mnist'] * 4
    # chance is 0.1 (loss 2.30); 24 steps: 0.3-0.4 validation accuracy, the loss 2.3 -> 1.5
    assert lines[-1]['train_loss'] < lines[0]['train_loss'] - 0.4
    assert max(r['val_acc'] for r in lines) > 0.25
    kill_and_resume(SCRIPT, args + ['--save-dir', str(broken), '--save-plot-dir', str(broken)],
                    broken, tmp_path, 2)
    assert comparable(records(broken)) == comparable(lines)
    last = 'fashion-mnist-ResNet20_b_1_relu-3.params'
    want, got = mx.nd.load(str(whole / last)), mx.nd.load(str(broken / last))
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_array_equal(got[name].asnumpy(), want[name].asnumpy(), err_msg=name)
