"""Offline CIFAR-10 / CIFAR-100 loading from every layout the data is shipped in.

The official releases come as a binary and a python (pickle) version, each either
as a ``.tar.gz`` archive or extracted into a release folder.  ``load_cifar`` finds
whichever is present and returns the images exactly as
``mx.gluon.data.vision.CIFAR10/100`` would (uint8 N x 32 x 32 x 3, int32 labels),
so the training pipeline does not depend on which copy a machine has.
"""
import collections
import contextlib
import functools
import io
import logging
import os
import pickle
import posixpath
import sys
import tarfile
import zlib
from unittest import mock

import mxnet as mx
import numpy as np

from ..errors import error_reason
from .errors import DataError

__all__ = ['CIFAR_MEAN', 'CIFAR_STD', 'DATASETS', 'RECORDS_PER_FILE', 'cifar_num_classes',
           'default_data_dir', 'load_cifar', 'write_binary_release']

#: Official per-channel normalisation, applied after scaling pixels to [0, 1].
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)

DATASETS = ('cifar10', 'cifar100')

#: Records in every file of the official releases, keyed by (dataset, train).  A file
#: holding a whole number of records but not this many is a partial copy.
RECORDS_PER_FILE = {
    ('cifar10', True): 10000,   # each of data_batch_1..5
    ('cifar10', False): 10000,
    ('cifar100', True): 50000,
    ('cifar100', False): 10000,
}

#: (connect, read) seconds for MXNet's downloader.  MXNet calls ``requests.get``
#: without a timeout, which blocks forever behind a firewall that drops packets;
#: ``socket.setdefaulttimeout`` does not help because urllib3 overrides it.
DOWNLOAD_TIMEOUT = (10, 60)

_IMAGE_SHAPE = (3, 32, 32)   # CHW planes, as stored in both releases
_IMAGE_BYTES = 3 * 32 * 32

# One distribution format of one data set: release folder, archive and file names.
_Layout = collections.namedtuple('_Layout', 'kind folder archive train test')

_LAYOUTS = {
    'cifar10': (
        _Layout('binary', 'cifar-10-batches-bin', 'cifar-10-binary.tar.gz',
                tuple('data_batch_%d.bin' % i for i in range(1, 6)), ('test_batch.bin',)),
        _Layout('python', 'cifar-10-batches-py', 'cifar-10-python.tar.gz',
                tuple('data_batch_%d' % i for i in range(1, 6)), ('test_batch',)),
    ),
    'cifar100': (
        _Layout('binary', 'cifar-100-binary', 'cifar-100-binary.tar.gz',
                ('train.bin',), ('test.bin',)),
        _Layout('python', 'cifar-100-python', 'cifar-100-python.tar.gz',
                ('train',), ('test',)),
    ),
}

_TITLES = {'cifar10': 'CIFAR-10', 'cifar100': 'CIFAR-100'}

# How to pick one label set: column of the binary record, key of the pickle dict,
# number of classes.  Binary CIFAR-100 records start with coarse, then fine.
_LabelSpec = collections.namedtuple('_LabelSpec', 'column key num_classes')
_LABELS = {
    ('cifar10', False): _LabelSpec(0, 'labels', 10),
    ('cifar100', False): _LabelSpec(0, 'coarse_labels', 20),
    ('cifar100', True): _LabelSpec(1, 'fine_labels', 100),
}
_LABEL_BYTES = {'cifar10': 1, 'cifar100': 2}


def load_cifar(dataset, data_dir=None, train=True, fine_label=False):
    """Load one split of CIFAR-10 or CIFAR-100 without network access.

    Parameters
    ----------
    dataset : str
        ``'cifar10'`` or ``'cifar100'``.
    data_dir : str, optional
        Directory holding a release folder (``cifar-10-batches-bin``,
        ``cifar-10-batches-py``, ``cifar-100-binary``, ``cifar-100-python``) or a
        release archive (``cifar-10-binary.tar.gz`` ...), or the release folder
        itself, or the path of an archive.  ``None`` means MXNet's location
        ``$MXNET_HOME/datasets/<dataset>``; if nothing is there, MXNet's own
        download is tried once.
    train : bool
        Training split if True, test split otherwise.
    fine_label : bool
        CIFAR-100 only: the 100 fine labels if True, else the 20 coarse labels
        (MXNet's default, which the official script trained on).  Ignored for
        CIFAR-10.

    Returns
    -------
    images : numpy.ndarray
        uint8, N x 32 x 32 x 3 (HWC, as ``mx.gluon.data.vision.CIFAR10`` gives).
    labels : numpy.ndarray
        int32, N.

    Raises
    ------
    DataError
        Unknown dataset, nothing found, or a missing / truncated / corrupt file;
        the message names the file or directory.
    """
    _check_dataset(dataset)
    if data_dir is None:
        layout, source = _default_source(dataset, train)
    else:
        layout, source = _find_source(dataset, data_dir)
        if layout is None:
            raise DataError(_not_found_message(dataset, data_dir))
    names = layout.train if train else layout.test
    labels = _LABELS[dataset, bool(fine_label) and dataset == 'cifar100']
    parse = _parse_binary if layout.kind == 'binary' else _parse_pickle
    parts = [parse(where, raw, dataset, train, labels) for where, raw in source(names)]
    images, targets = zip(*parts)
    return np.concatenate(images), np.concatenate(targets)


def write_binary_release(data_dir, dataset, train, test):
    """Write a (small) binary release of ``dataset`` that :func:`load_cifar` reads from
    ``data_dir``: its release folder with every file of the official layout.

    Parameters
    ----------
    data_dir : str
        Parent of the release folder (created if missing).
    dataset : str
        ``cifar10`` or ``cifar100``.
    train, test : (numpy.ndarray, numpy.ndarray)
        uint8 N x 32 x 32 x 3 images and integer labels (CIFAR-100: used as both the coarse
        and the fine label, so they must be below 20). CIFAR-10's training images are spread
        over its five files.

    Returns
    -------
    str
        The release folder.
    """
    _check_dataset(dataset)
    layout = _LAYOUTS[dataset][0]  # binary
    folder = os.path.join(data_dir, layout.folder)
    os.makedirs(folder, exist_ok=True)
    for names, (images, labels) in ((layout.train, train), (layout.test, test)):
        labels = np.asarray(labels).astype(np.uint8)[:, None]
        heads = labels if _LABEL_BYTES[dataset] == 1 else np.concatenate([labels, labels], 1)
        planes = np.asarray(images, dtype=np.uint8).transpose(0, 3, 1, 2).reshape(len(labels), -1)
        records = np.concatenate([heads, planes], 1)
        for name, part in zip(names, np.array_split(records, len(names))):
            with open(os.path.join(folder, name), 'wb') as f:
                f.write(part.tobytes())
    return folder


def cifar_num_classes(dataset, fine_label=False):
    """Number of classes ``load_cifar`` returns labels for.

    Parameters
    ----------
    dataset : str
        ``'cifar10'`` or ``'cifar100'``.
    fine_label : bool
        As for ``load_cifar``: CIFAR-100 has 100 fine or 20 coarse classes.

    Returns
    -------
    int
    """
    _check_dataset(dataset)
    return _LABELS[dataset, bool(fine_label) and dataset == 'cifar100'].num_classes


def default_data_dir(dataset):
    """Where ``mx.gluon.data.vision.CIFAR10/100`` keep the data set.

    Parameters
    ----------
    dataset : str
        ``'cifar10'`` or ``'cifar100'``.

    Returns
    -------
    str
        ``$MXNET_HOME/datasets/<dataset>`` (``~/.mxnet`` without MXNET_HOME).
    """
    _check_dataset(dataset)
    return os.path.join(mx.base.data_dir(), 'datasets', dataset)


def _check_dataset(dataset):
    """Reject anything but the two CIFAR names, listing the valid ones."""
    if dataset not in _LAYOUTS:
        raise DataError('unknown dataset %r: valid ones are %s'
                        % (dataset, ', '.join(DATASETS)))


# --------------------------------------------------------------------------- finding


def _find_source(dataset, data_dir):
    """(layout, reader) of the first layout of ``dataset`` in ``data_dir``, else (None, None)."""
    # reader(names) yields (where, bytes) per file.  data_dir: the parent of a release folder
    # or archive, a release folder, or an archive.  Extracted folders win over archives
    # because they need no decompression.
    layouts = _LAYOUTS[dataset]
    if os.path.isfile(data_dir):
        for layout in layouts:
            if os.path.basename(data_dir) == layout.archive:
                return layout, functools.partial(_read_archive, data_dir)
        raise DataError('%s: not a %s archive (expected one of %s)'
                        % (data_dir, _TITLES[dataset],
                           ', '.join(layout.archive for layout in layouts)))
    if not os.path.isdir(data_dir):
        raise DataError('%s: no such file or directory' % data_dir)
    for layout in layouts:
        for folder in (os.path.join(data_dir, layout.folder), data_dir):
            if any(os.path.isfile(os.path.join(folder, name))
                   for name in layout.train + layout.test):
                return layout, functools.partial(_read_folder, folder)
    for layout in layouts:
        archive = os.path.join(data_dir, layout.archive)
        if os.path.isfile(archive):
            return layout, functools.partial(_read_archive, archive)
    return None, None


def _not_found_message(dataset, data_dir):
    """One line saying what ``_find_source`` looked for in ``data_dir``."""
    layouts = _LAYOUTS[dataset]
    wanted = [layout.folder + '/' for layout in layouts] + [layout.archive for layout in layouts]
    return ('no %s found in %s (looked for %s, or their files directly in it)'
            % (_TITLES[dataset], data_dir, ', '.join(wanted)))


def _default_source(dataset, train):
    """Find the data set in MXNet's location, downloading it with MXNet if absent."""
    root = default_data_dir(dataset)
    if os.path.isdir(root):
        layout, source = _find_source(dataset, root)
        if layout is not None:
            return layout, source
    try:
        _download_with_mxnet(dataset, root, train)
    except Exception as exc:  # noqa: BLE001 -- whatever broke, the remedy is --data-dir
        raise DataError('no %s found at %s and MXNet\'s download failed (%s); pass --data-dir '
                        'pointing at a CIFAR copy'
                        % (_TITLES[dataset], root, error_reason(exc, unwrap=True)))
    layout, source = _find_source(dataset, root)
    if layout is None:
        raise DataError('MXNet downloaded %s into %s but no readable release is there; pass '
                        '--data-dir pointing at a CIFAR copy' % (_TITLES[dataset], root))
    return layout, source


def _download_with_mxnet(dataset, root, train):
    """Let MXNet's dataset class (of split ``train``) fetch the binary release into ``root``."""
    vision = mx.gluon.data.vision
    dataset_class = vision.CIFAR10 if dataset == 'cifar10' else vision.CIFAR100
    requests = mx.gluon.utils.requests
    get_with_timeout = functools.partial(requests.get, timeout=DOWNLOAD_TIMEOUT)
    print('atac_gluon: no %s at %s, trying MXNet\'s download' % (_TITLES[dataset], root),
          file=sys.stderr)
    # MXNet prints a line per retry to stdout; keep stdout for the scripts' own output.
    with mock.patch.object(requests, 'get', get_with_timeout), \
            contextlib.redirect_stdout(io.StringIO()):
        dataset_class(root=root, train=train)


# --------------------------------------------------------------------------- reading


def _read_folder(folder, names):
    """Yield ``(path, bytes)`` for each of the files ``names`` of a release ``folder``."""
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, 'rb') as f:
                raw = f.read()
        except FileNotFoundError:
            raise DataError('%s: missing (incomplete copy of the release?)' % path) from None
        except OSError as exc:
            raise DataError('%s: cannot read (%s)' % (path, exc.strerror or exc)) from None
        yield path, raw


def _read_archive(archive, names):
    """Yield ``('archive:member', bytes)`` for each of the files ``names`` of a ``.tar.gz``."""
    # Members are matched by base name, so archives with or without the release folder prefix
    # both work.  One streaming pass, no extraction to disk.
    found = {}
    try:
        with tarfile.open(archive, 'r:gz') as tar:
            for member in tar:
                name = posixpath.basename(member.name)
                if member.isfile() and name in names and name not in found:
                    found[name] = (member.name, tar.extractfile(member).read())
                    if len(found) == len(names):
                        break
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError('%s: unreadable archive (%s)' % (archive, error_reason(exc))) from None
    for name in names:
        if name not in found:
            raise DataError('%s: archive has no member %s' % (archive, name))
        member, raw = found[name]
        yield '%s:%s' % (archive, member), raw


def _parse_binary(where, raw, dataset, train, labels):
    """(uint8 N x 32 x 32 x 3 images, int32 labels) of a binary-release file ``where``."""
    # records of label byte(s) + 3072 CHW pixel bytes; labels.column picks the label
    record = _LABEL_BYTES[dataset] + _IMAGE_BYTES
    if not raw or len(raw) % record:
        raise DataError('%s: %d bytes is not a whole number of %d-byte %s records '
                        '(truncated, or not a %s binary file)'
                        % (where, len(raw), record, _TITLES[dataset], _TITLES[dataset]))
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, record)
    pixels = records[:, _LABEL_BYTES[dataset]:]
    return _checked(where, pixels, records[:, labels.column], dataset, train, labels)


def _parse_pickle(where, raw, dataset, train, labels):
    """(uint8 N x 32 x 32 x 3 images, int32 labels) of a python-release file ``where``."""
    # a pickled dict with 'data' and label lists; labels.key picks the label
    try:
        # The release was pickled by Python 2; 'bytes' keeps its str keys as bytes.
        batch = pickle.loads(raw, encoding='bytes')
    except Exception as exc:  # noqa: BLE001 -- a damaged pickle can raise almost anything
        raise DataError('%s: not a readable CIFAR pickle (%s)' % (where, error_reason(exc))) \
            from None
    pixels = np.asarray(_pickle_field(where, batch, 'data'))
    targets = np.asarray(_pickle_field(where, batch, labels.key))
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != _IMAGE_BYTES:
        raise DataError('%s: data is %s %s, expected uint8 N x %d'
                        % (where, pixels.dtype, pixels.shape, _IMAGE_BYTES))
    if targets.shape != (len(pixels),) or not np.issubdtype(targets.dtype, np.integer):
        raise DataError('%s: %s has shape %s, expected %d integers'
                        % (where, labels.key, targets.shape, len(pixels)))
    return _checked(where, pixels, targets, dataset, train, labels)


def _pickle_field(where, batch, key):
    """Look ``key`` up in an unpickled batch under its bytes or str spelling."""
    if isinstance(batch, dict):
        for spelling in (key.encode(), key):
            if spelling in batch:
                return batch[spelling]
    raise DataError('%s: CIFAR pickle has no %r entry' % (where, key))


def _checked(where, pixels, targets, dataset, train, labels):
    """Validate count and label range, then reshape CHW planes to HWC images."""
    # pixels: uint8 N x 3072 (R plane, G plane, B plane; each row-major 32 x 32)
    expected = RECORDS_PER_FILE[dataset, train]
    if len(pixels) == 0:
        raise DataError('%s: no images' % where)
    if len(pixels) != expected:
        # subsets are legitimate (quick runs, tests); a copy cut at a record boundary is not
        logging.getLogger('atac').warning(
            '%s: %d images, the %s release has %d per file (subset or partial copy?)',
            where, len(pixels), _TITLES[dataset], expected)
    if targets.min() < 0 or targets.max() >= labels.num_classes:
        raise DataError('%s: labels outside 0..%d (file from another data set?)'
                        % (where, labels.num_classes - 1))
    images = pixels.reshape((-1,) + _IMAGE_SHAPE).transpose(0, 2, 3, 1)
    return images, targets.astype(np.int32)
