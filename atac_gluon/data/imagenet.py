"""ImageNet inputs as the official train_imagenet.py reads them: RecordIO or an image folder.

``--use-rec`` reads ``train.rec`` / ``val.rec`` (with their ``.idx``) through
``mx.io.ImageRecordIter``; otherwise ``<data-dir>/train`` and ``<data-dir>/val``
are read as ``ImageFolderDataset`` trees through a gluon ``DataLoader``.  The
augmentation and normalisation parameters are the official ones.

Both iterator kinds offer what the shared training loop needs, like
``BatchIterator``: ``set_epoch(epoch)``, ``len()`` (batches per epoch) and
iteration over ``(float32 N x C x H x W data, float32 labels)`` global batches.
Unreadable files surface as ``DataError`` naming the file, also when the failure
happens inside ImageRecordIter's C++ threads or a DataLoader worker process.
"""
import math
import os
import struct

import mxnet as mx
import numpy as np
from mxnet.gluon.data import DataLoader
from mxnet.gluon.data.vision import ImageFolderDataset, transforms

from .batches import EpochBatches, check_batch_fits
from ..errors import error_reason
from .errors import DataError

__all__ = ['DEFAULT_CROP_RATIO', 'FOLDER_MEAN', 'FOLDER_STD', 'JITTER_PARAM', 'LIGHTING_PARAM',
           'RECORDIO_MAGIC', 'REC_MEAN_RGB', 'REC_STD_RGB', 'FolderBatches', 'RecordBatches',
           'folder_iterators', 'folder_stats', 'rec_iterators', 'rec_num_samples', 'rec_stats',
           'val_resize', 'folder_val_transform']

#: ImageRecordIter normalisation of 0..255 pixels (official --use-rec pipeline).
REC_MEAN_RGB = (123.68, 116.779, 103.939)
REC_STD_RGB = (58.393, 57.12, 57.375)
#: ``transforms.Normalize`` statistics of pixels scaled to [0, 1] (official folder pipeline).
FOLDER_MEAN = (0.485, 0.456, 0.406)
FOLDER_STD = (0.229, 0.224, 0.225)
#: Brightness, contrast and saturation jitter, and PCA lighting noise, of training images.
JITTER_PARAM = 0.4
LIGHTING_PARAM = 0.1
#: Validation crop ratio when ``crop_ratio`` <= 0: resize the shorter side to size / 0.875.
DEFAULT_CROP_RATIO = 0.875
#: First word of every RecordIO frame (dmlc-core ``RecordIOWriter::kMagic``).
RECORDIO_MAGIC = 0xced7230a

_FRAME = struct.Struct('<II')         # magic, then cflag (3 high bits) | payload length
_LENGTH_MASK = (1 << 29) - 1
_MAGIC_BYTES = struct.pack('<I', RECORDIO_MAGIC)
# cflag of a frame: 0 whole record, 1 / 2 / 3 first / middle / last part of a split one.
_CFLAG_CONTINUED = (1, 2)
_CFLAG_STARTS = (0, 1)
_IR_FORMAT = mx.recordio._IR_FORMAT  # pylint: disable=protected-access
_IR_SIZE = mx.recordio._IR_SIZE      # pylint: disable=protected-access
_FIRST_LABEL = struct.Struct('f')
# Distinct tags keep the shuffle and augmentation seeds of an epoch apart.
_SHUFFLE_STREAM = 1
_AUGMENTATION_STREAM = 2


def val_resize(input_size, crop_ratio):
    """Shorter-side length validation images are resized to before the centre crop.

    Parameters
    ----------
    input_size : int
        Side of the network input (224 for ImageNet).
    crop_ratio : float
        Crop side over resized side; <= 0 means ``DEFAULT_CROP_RATIO``.

    Returns
    -------
    int
        ``ceil(input_size / crop_ratio)``, e.g. 256 for 224 and 0.875.
    """
    ratio = crop_ratio if crop_ratio > 0 else DEFAULT_CROP_RATIO
    return int(math.ceil(input_size / ratio))


# --------------------------------------------------------------------------- RecordIO


def rec_num_samples(idx_path):
    """Number of records an ``.idx`` file lists (one non-empty line per record).

    Only counts lines, so it takes a fraction of a second even for ImageNet's
    1.28 million records; ``rec_stats`` parses and checks them.

    Parameters
    ----------
    idx_path : str
        The ``.idx`` file; ``~`` is expanded.

    Returns
    -------
    int
    """
    idx_path = _existing_file(idx_path)
    try:
        with open(idx_path, 'rb') as f:
            count = sum(1 for line in f if line.strip())
    except OSError as exc:
        raise DataError('%s: cannot read (%s)' % (idx_path, exc.strerror or exc)) from None
    if not count:
        raise DataError('%s: lists no records' % idx_path)
    return count


def rec_stats(rec_path, idx_path):
    """Records and classes of a RecordIO pair, from the record headers alone.

    For each offset in the ``.idx`` only the RecordIO frame header and the
    ``IRHeader`` (plus the first label of a label array) are read, never the
    image bytes, so ImageNet's 140 GB ``train.rec`` takes seconds.  Call it
    before ``rec_iterators``: a wrong ``.idx`` offset makes ImageRecordIter
    abort the whole process from its C++ thread, past any Python handler.

    Parameters
    ----------
    rec_path, idx_path : str
        The ``.rec`` file and its index; ``~`` is expanded.

    Returns
    -------
    num_samples : int
        Records listed in the ``.idx``.
    num_classes : int
        Largest label plus one (the first label of records holding several).

    Raises
    ------
    DataError
        A missing file, an unparsable ``.idx`` line, an offset beyond the end of
        the ``.rec``, no RecordIO frame at an offset, a label that is not a
        non-negative integer, or an ``.idx`` that does not list every record
        exactly once; the message names the file.
    """
    rec_path = _existing_file(rec_path)
    idx_path = _existing_file(idx_path)
    entries = _read_idx(idx_path)
    size = os.path.getsize(rec_path)
    labels, ends = [], []
    try:
        # Unbuffered: each record costs one seek and one small read, not an 8 KiB refill.
        with open(rec_path, 'rb', buffering=0) as f:
            for key, offset in entries:
                label, end = _read_record(f, rec_path, size, key, offset)
                labels.append(label)
                ends.append(end)
    except OSError as exc:
        raise DataError('%s: cannot read (%s)' % (rec_path, exc.strerror or exc)) from None
    _check_coverage(rec_path, idx_path, entries, ends, size)
    return len(entries), max(labels) + 1


def rec_iterators(rec_train, rec_train_idx, rec_val, rec_val_idx, batch_size, num_workers,
                  input_size, crop_ratio, seed):
    """Training and validation batches read from RecordIO by ``mx.io.ImageRecordIter``.

    Parameters
    ----------
    rec_train, rec_train_idx, rec_val, rec_val_idx : str
        The ``.rec`` files and their ``.idx``; ``~`` is expanded.
    batch_size : int
        Global batch size.
    num_workers : int
        Decoding threads (at least one is used).
    input_size : int
        Side of the square network input.
    crop_ratio : float
        Validation crop ratio (<= 0: ``DEFAULT_CROP_RATIO``).
    seed : int
        Base seed of the per-epoch shuffle and augmentation seeds.

    Returns
    -------
    (RecordBatches, RecordBatches)
        Training (shuffled, augmented, last batch filled up from the start as
        ImageRecordIter's ``round_batch`` does) and validation (fixed order,
        resized and centre-cropped, last batch without its padding).

    Notes
    -----
    Only the files' existence and the ``.idx`` line counts are checked here;
    ``rec_stats`` validates the pairs (ImageRecordIter itself aborts the process
    on a wrong ``.idx`` offset).
    """
    _check_sizes(batch_size, num_workers, input_size)
    common = {'preprocess_threads': max(1, int(num_workers)), 'batch_size': int(batch_size),
              'data_shape': (3, int(input_size), int(input_size)), 'verbose': False,
              'mean_r': REC_MEAN_RGB[0], 'mean_g': REC_MEAN_RGB[1], 'mean_b': REC_MEAN_RGB[2],
              'std_r': REC_STD_RGB[0], 'std_g': REC_STD_RGB[1], 'std_b': REC_STD_RGB[2]}
    train_options = dict(common, shuffle=True, rand_mirror=True, random_resized_crop=True,
                         max_aspect_ratio=4. / 3., min_aspect_ratio=3. / 4.,
                         max_random_area=1, min_random_area=0.08, brightness=JITTER_PARAM,
                         saturation=JITTER_PARAM, contrast=JITTER_PARAM,
                         pca_noise=LIGHTING_PARAM)
    val_options = dict(common, shuffle=False, resize=val_resize(input_size, crop_ratio))
    train = RecordBatches(rec_train, rec_train_idx, train_options, seed=seed, train=True)
    check_batch_fits(batch_size, train.num_samples, train._rec_path)
    val = RecordBatches(rec_val, rec_val_idx, val_options, seed=seed, train=False)
    return train, val


class RecordBatches(EpochBatches):
    """Epochs of ``mx.io.ImageRecordIter`` batches with the training loop's interface.

    Every pass creates a fresh ImageRecordIter seeded from (seed, epoch) instead
    of calling ``reset()``: with ``round_batch`` (the default the official script
    relies on) ``reset()`` after an epoch that wrapped around does not rewind,
    and the prefetch thread races it, so epochs came out 2 or 3 batches long
    with 6 to 10 distinct samples.  A fresh iterator always yields
    ``ceil(n / batch_size)`` batches, and ``set_epoch(k)`` alone reproduces the
    shuffle of epoch ``k`` (``seed_aug`` too: ``seed`` only drives the shuffle).

    Parameters
    ----------
    rec_path, idx_path : str
        The ``.rec`` file and its index; ``~`` is expanded.
    options : dict
        ImageRecordIter arguments other than the paths and seeds; ``batch_size``
        is required.
    seed : int
        Non-negative base seed.
    train : bool
        Training keeps the last batch whole (padded with samples from the
        start); validation drops that padding so no sample is counted twice.
    """

    def __init__(self, rec_path, idx_path, options, seed=0, train=True):
        if int(seed) < 0:
            raise ValueError('seed must be >= 0, got %r' % (seed,))
        self._rec_path = _existing_file(rec_path)
        self._idx_path = _existing_file(idx_path)
        super().__init__(rec_num_samples(self._idx_path))
        self._options = dict(options)
        self._batch_size = int(options['batch_size'])
        self._seed = int(seed)
        self._train = bool(train)

    def __len__(self):
        return -(-self._num_samples // self._batch_size)

    def __iter__(self):
        records = self._guarded(self._open, self._epoch)
        try:
            yielded = 0
            while yielded <= len(self):
                batch = self._guarded(next, records, None)
                if batch is None:
                    break
                yielded += 1
                if yielded <= len(self):
                    yield self._unpadded_copy(batch)
            if yielded != len(self):
                got = yielded if yielded < len(self) else 'more than %d' % len(self)
                raise DataError('%s: ImageRecordIter gave %s batches of %d but %s lists %d '
                                'records (%d batches); are the .rec and .idx from the same '
                                'im2rec run?' % (self._rec_path, got, self._batch_size,
                                                 self._idx_path, self._num_samples, len(self)))
        finally:
            # Stop the C++ prefetch threads now, also when the consumer breaks early.
            del records

    def _open(self, epoch):
        """A new ImageRecordIter for ``epoch`` (it decodes the first batch right away).

        Parameters
        ----------
        epoch : int
            Epoch number (part of the shuffle and augmentation seeds).
        """
        seeds = {}
        if self._train:
            seeds = {'seed': _epoch_seed(self._seed, epoch, _SHUFFLE_STREAM),
                     'seed_aug': _epoch_seed(self._seed, epoch, _AUGMENTATION_STREAM)}
        try:
            return mx.io.ImageRecordIter(path_imgrec=self._rec_path, path_imgidx=self._idx_path,
                                         **self._options, **seeds)
        except StopIteration:  # MXDataIter draws the first batch in its constructor
            return iter(())

    def _guarded(self, call, *args):
        """``call(*args)``, turning a C++ failure (corrupt record) into a DataError.

        Parameters
        ----------
        call : callable
        *args
            Its arguments.
        """
        try:
            return call(*args)
        except mx.base.MXNetError as exc:
            raise DataError('%s: reading the records failed, corrupt or truncated file? (%s)'
                            % (self._rec_path, error_reason(exc))) from None

    def _unpadded_copy(self, batch):
        """(data, label) of a DataBatch, copied to the CPU, validation padding dropped.

        ImageRecordIter recycles its output buffers as soon as the next batch is
        drawn (batches kept in a list change under you), hence the copies.

        Parameters
        ----------
        batch : mx.io.DataBatch
        """
        keep = self._batch_size if self._train else self._batch_size - batch.pad
        data = batch.data[0][:keep].copyto(mx.cpu())
        label = batch.label[0][:keep].copyto(mx.cpu())
        return data, label


def _read_idx(idx_path):
    """[(key, offset)] of an ``.idx`` file, checked line by line.

    Parameters
    ----------
    idx_path : str
        Existing ``.idx`` file.
    """
    entries = []
    try:
        with open(idx_path, 'rb') as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    key, offset = (int(v) for v in fields)
                except ValueError:
                    raise DataError('%s: line %d is %r, expected "<index>\\t<offset>"'
                                    % (idx_path, number, line.decode('latin-1').rstrip()[:60])) \
                        from None
                if offset < 0:
                    raise DataError('%s: line %d has negative offset %d'
                                    % (idx_path, number, offset))
                entries.append((key, offset))
    except OSError as exc:
        raise DataError('%s: cannot read (%s)' % (idx_path, exc.strerror or exc)) from None
    if not entries:
        raise DataError('%s: lists no records' % idx_path)
    return entries


def _read_record(f, rec_path, size, key, offset):
    """Label of the record at ``offset`` and where the record ends, from its headers only.

    Parameters
    ----------
    f : file
        The ``.rec`` opened unbuffered for reading.
    rec_path : str
        Its path, for messages.
    size : int
        Its size in bytes.
    key, offset : int
        The record's ``.idx`` entry.

    Returns
    -------
    (int, int)
        Label and the offset just past the record (and its alignment padding).
    """
    # A label array stores its first label right after the IRHeader: read that too.
    head, end = _record_head(f, rec_path, size, key, offset, _IR_SIZE + _FIRST_LABEL.size)
    if len(head) < _IR_SIZE:
        raise _bad_record(rec_path, key, offset,
                          'is %d bytes, too short for a record header' % len(head))
    flag, label = struct.unpack(_IR_FORMAT, head[:_IR_SIZE])[:2]
    if flag > 0:
        if len(head) < _IR_SIZE + _FIRST_LABEL.size:
            raise _bad_record(rec_path, key, offset,
                              'announces %d labels but ends before them' % flag)
        label = _FIRST_LABEL.unpack_from(head, _IR_SIZE)[0]
    if not (math.isfinite(label) and label >= 0 and label == int(label)):
        raise _bad_record(rec_path, key, offset,
                          'has label %r, expected a class number >= 0' % label)
    return int(label), end


def _record_head(f, rec_path, size, key, offset, need):
    """The first ``need`` payload bytes (fewer if the record is shorter) of a record, and
    the offset just past it.

    The writer splits a record wherever its payload contains the magic number at
    a 4-byte boundary, e.g. an IRHeader whose id is 0xced7230a; the parts are
    joined back with the magic, as dmlc-core's reader does, and only the frame
    headers of the remaining parts are read.

    Parameters
    ----------
    f : file
        The ``.rec`` opened unbuffered for reading.
    rec_path : str
        Its path, for messages.
    size : int
        File size in bytes.
    key, offset : int
        The record's ``.idx`` entry.
    need : int
        Payload bytes wanted.
    """
    head = b''
    position = offset
    while True:
        if position + _FRAME.size > size:
            raise _bad_record(rec_path, key, offset,
                              'has a frame at byte %d, beyond the end of the %d-byte file '
                              '(truncated copy, or an .idx of another .rec?)' % (position, size))
        f.seek(position)
        frame = f.read(_FRAME.size + max(0, need - len(head)))
        magic, word = _FRAME.unpack_from(frame)
        if magic != RECORDIO_MAGIC:
            raise _bad_record(rec_path, key, offset,
                              'has no RecordIO frame at byte %d (magic 0x%08x, expected 0x%08x; '
                              'an .idx of another .rec?)' % (position, magic, RECORDIO_MAGIC))
        cflag, length = word >> 29, word & _LENGTH_MASK
        if position == offset and cflag not in _CFLAG_STARTS:
            raise _bad_record(rec_path, key, offset, 'starts in the middle of a split record')
        if position + _FRAME.size + length > size:
            raise _bad_record(rec_path, key, offset,
                              'has a %d-byte frame at byte %d that runs past the end of the '
                              '%d-byte file (truncated copy?)' % (length, position, size))
        head += frame[_FRAME.size:_FRAME.size + length]
        position += _FRAME.size + (length + 3) // 4 * 4
        if cflag not in _CFLAG_CONTINUED:
            return head[:need], position
        head += _MAGIC_BYTES  # the writer cut the record at this magic and dropped it


def _bad_record(rec_path, key, offset, problem):
    """DataError about one record (built only on failure: the scan must stay fast).

    Parameters
    ----------
    rec_path : str
    key, offset : int
        The record's ``.idx`` entry.
    problem : str
        What is wrong, completing "record <key> at offset <offset> ...".
    """
    return DataError('%s: record %d at offset %d %s' % (rec_path, key, offset, problem))


def _check_coverage(rec_path, idx_path, entries, ends, size):
    """Refuse an ``.idx`` that does not list every record of the ``.rec`` exactly once.

    ImageRecordIter reads every record of the ``.rec`` whatever the ``.idx``
    lists, so otherwise the ``.idx`` count would not be the epoch length.

    Parameters
    ----------
    rec_path, idx_path : str
    entries : list of (int, int)
        (key, offset) of each ``.idx`` line.
    ends : list of int
        Offset just past each listed record.
    size : int
        Size of the ``.rec`` in bytes.
    """
    offsets = np.array([offset for _, offset in entries], dtype=np.int64)
    order = np.argsort(offsets, kind='stable')
    starts, stops = offsets[order], np.asarray(ends, dtype=np.int64)[order]
    expected = np.concatenate([[0], stops[:-1]])
    wrong = np.flatnonzero(starts != expected)
    if wrong.size:
        first = wrong[0]
        if starts[first] < expected[first]:
            raise _bad_record(rec_path, entries[order[first]][0], starts[first],
                              'overlaps the record before it (a repeated line in %s?)'
                              % idx_path)
        raise DataError('%s: bytes %d..%d hold records that %s does not list (an .idx of '
                        'another or an interrupted im2rec run?)'
                        % (rec_path, expected[first], starts[first], idx_path))
    if stops[-1] != size:
        raise DataError('%s: the records %s lists end at byte %d but the file has %d bytes '
                        '(an .idx of an interrupted im2rec run?)'
                        % (rec_path, idx_path, stops[-1], size))


def _epoch_seed(seed, epoch, stream):
    """A per-(seed, epoch, stream) seed that ImageRecordIter's signed 32-bit int accepts.

    Parameters
    ----------
    seed, epoch, stream : int
    """
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(1)
    return int(state[0] & 0x7fffffff)


# --------------------------------------------------------------------------- image folders


def folder_stats(root):
    """Images and classes of one split folder ``root/<class>/<image>``.

    Parameters
    ----------
    root : str
        E.g. ``~/.mxnet/datasets/imagenet/train``; ``~`` is expanded.

    Returns
    -------
    num_samples : int
    num_classes : int
    class_names : list of str
        Sorted subfolder names; ``class_names[i]`` has label ``i``.
    """
    folder = _open_folder(root)
    return len(folder), len(folder.synsets), list(folder.synsets)


def folder_iterators(data_dir, batch_size, num_workers, input_size, crop_ratio):
    """Training and validation batches of ``data_dir/train`` and ``data_dir/val``.

    Parameters
    ----------
    data_dir : str
        Folder holding ``train/`` and ``val/`` class trees; ``~`` is expanded.
    batch_size : int
        Global batch size.
    num_workers : int
        DataLoader worker processes (0: decode in the calling process).
    input_size : int
        Side of the square network input.
    crop_ratio : float
        Validation crop ratio (<= 0: ``DEFAULT_CROP_RATIO``).

    Returns
    -------
    (FolderBatches, FolderBatches)
        Training (shuffled by the global numpy RNG, augmented, last partial
        batch discarded) and validation (fixed order, resized and centre-cropped,
        last partial batch kept).
    """
    _check_sizes(batch_size, num_workers, input_size)
    data_dir = os.path.expanduser(data_dir)
    train = _open_folder(os.path.join(data_dir, 'train'))
    check_batch_fits(batch_size, len(train), os.path.join(data_dir, 'train'))
    val = _open_folder(os.path.join(data_dir, 'val'))
    if val.synsets != train.synsets:
        raise DataError('%s: class folders differ from those of %s (labels would not match)'
                        % (os.path.join(data_dir, 'val'), os.path.join(data_dir, 'train')))
    normalize = transforms.Normalize(FOLDER_MEAN, FOLDER_STD)
    train_transform = transforms.Compose([
        transforms.RandomResizedCrop(input_size),
        transforms.RandomFlipLeftRight(),
        transforms.RandomColorJitter(brightness=JITTER_PARAM, contrast=JITTER_PARAM,
                                     saturation=JITTER_PARAM),
        transforms.RandomLighting(LIGHTING_PARAM),
        transforms.ToTensor(),
        normalize,
    ])
    val_transform = folder_val_transform(input_size, crop_ratio)
    train_loader = DataLoader(train.transform_first(train_transform), batch_size=batch_size,
                              shuffle=True, last_batch='discard', num_workers=num_workers)
    val_loader = DataLoader(val.transform_first(val_transform), batch_size=batch_size,
                            shuffle=False, num_workers=num_workers)
    return FolderBatches(train_loader, len(train)), FolderBatches(val_loader, len(val))


def folder_val_transform(input_size, crop_ratio):
    """The official validation transform of an HWC uint8 image: resize the short side to
    ``ceil(input_size / crop_ratio)``, centre-crop ``input_size``, to tensor, normalise.

    Parameters
    ----------
    input_size : int
        Side of the square network input.
    crop_ratio : float
        Validation crop ratio (<= 0: ``DEFAULT_CROP_RATIO``).
    """
    return transforms.Compose([
        transforms.Resize(val_resize(input_size, crop_ratio), keep_ratio=True),
        transforms.CenterCrop(input_size),
        transforms.ToTensor(),
        transforms.Normalize(FOLDER_MEAN, FOLDER_STD),
    ])


class FolderBatches(EpochBatches):
    """A gluon DataLoader with the training loop's interface and float32 labels.

    Shuffling draws from the global numpy RNG when each pass starts, so the
    loop's per-epoch seeding fixes the order and ``set_epoch`` has nothing to do.

    Parameters
    ----------
    loader : mxnet.gluon.data.DataLoader
    num_samples : int
        Images in its data set.
    """

    def __init__(self, loader, num_samples):
        super().__init__(num_samples)  # the epoch changes nothing: shuffling uses the global RNG
        self._loader = loader

    def __len__(self):
        return len(self._loader)

    def __iter__(self):
        for data, label in self._loader:
            yield data, label.astype(np.float32)


class _CheckedImageFolder(ImageFolderDataset):
    """ImageFolderDataset whose undecodable images raise a DataError naming the file.

    A DataError pickles with its message, so it also reaches the main process
    intact from a DataLoader worker (the worker pool re-raises it there).
    """

    def __getitem__(self, idx):
        try:
            return super().__getitem__(idx)
        except mx.base.MXNetError as exc:
            raise DataError('%s: cannot decode image (%s)'
                            % (self.items[idx][0], error_reason(exc))) from None


def _open_folder(root):
    """The checked image-folder data set of one split.

    Parameters
    ----------
    root : str
        Split folder; ``~`` is expanded.
    """
    root = os.path.expanduser(root)
    if not os.path.isdir(root):
        raise DataError('%s: no such directory' % root)
    folder = _CheckedImageFolder(root)
    if not folder.synsets:
        raise DataError('%s: no class subfolders (expected %s/<class>/<image>.jpg)'
                        % (root, root))
    if not len(folder):
        raise DataError('%s: no .jpg, .jpeg or .png images in its %d class folders'
                        % (root, len(folder.synsets)))
    return folder


# --------------------------------------------------------------------------- checks


def _existing_file(path):
    """``path`` with ``~`` expanded, or a DataError if no such file.

    Parameters
    ----------
    path : str
    """
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise DataError('%s: no such file' % path)
    return path


def _check_sizes(batch_size, num_workers, input_size):
    """Reject iterator sizes that would fail later inside MXNet.

    Parameters
    ----------
    batch_size, num_workers, input_size : int
    """
    if int(batch_size) < 1:
        raise ValueError('batch_size must be >= 1, got %r' % (batch_size,))
    if int(num_workers) < 0:
        raise ValueError('num_workers must be >= 0, got %r' % (num_workers,))
    if int(input_size) < 1:
        raise ValueError('input_size must be >= 1, got %r' % (input_size,))
