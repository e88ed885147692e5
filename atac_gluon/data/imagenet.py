"""ImageNet inputs as the official train_imagenet.py reads them: RecordIO or an image folder.

``--use-rec`` reads ``train.rec`` / ``val.rec`` (with their ``.idx``) through
``mx.io.ImageRecordIter``; otherwise ``<data-dir>/train`` and ``<data-dir>/val``
are read as ``ImageFolderDataset`` trees through a gluon ``DataLoader``.  The
augmentation and normalisation parameters are the official ones.

Both iterator kinds offer what the shared training loop needs, like
``BatchIterator``: ``set_epoch(epoch)``, ``len()`` (batches per epoch) and
iteration over ``(float32 N x C x H x W data, float32 labels)`` global batches.
Unreadable files surface as ``DataError`` naming the file, also when the failure
happens inside ImageRecordIter's C++ threads or a DataLoader worker process; the
checks of a RecordIO pair before training (``rec_stats``) are in ``data.recordio``.
"""
import math
import os

import mxnet as mx
import numpy as np
from mxnet.gluon.data import DataLoader
from mxnet.gluon.data.vision import ImageFolderDataset, transforms

from .batches import EpochBatches, check_batch_fits
from ..errors import error_reason
from .errors import DataError, existing_file
# rec_stats and RECORDIO_MAGIC are re-exported: the scripts read the pairs' statistics here.
from .recordio import RECORDIO_MAGIC, rec_num_samples, rec_stats
from .seeds import AUGMENTATION_STREAM, SHUFFLE_STREAM, derived_seed

__all__ = ['DEFAULT_CROP_RATIO', 'FOLDER_MEAN', 'FOLDER_STD', 'JITTER_PARAM', 'LIGHTING_PARAM',
           'RECORDIO_MAGIC', 'REC_MEAN_RGB', 'REC_STD_RGB', 'FolderBatches', 'PartSampler',
           'RecordBatches', 'folder_iterators', 'folder_stats', 'open_folder', 'rec_iterators',
           'rec_num_samples', 'rec_stats', 'val_resize', 'folder_val_transform']

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


def rec_iterators(rec_train, rec_train_idx, rec_val, rec_val_idx, batch_size, num_workers,
                  input_size, crop_ratio, seed, part=(0, 1)):
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
    part : (int, int)
        (worker index, workers) of distributed training: the training share this worker
        reads (see :class:`RecordBatches`); validation reads everything.

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
    train = RecordBatches(rec_train, rec_train_idx, train_options, seed=seed, train=True,
                          part=part)
    check_batch_fits(batch_size, train.num_samples // part[1], train._rec_path)
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
    part : (int, int)
        (index, parts) of distributed training: ImageRecordIter reads its
        ``part_index`` of ``num_parts``, whose sizes may differ by a record, so
        every worker stops after the same number of full batches,
        ``(n // parts) // batch_size`` (an unequal count would leave the others
        waiting for ever at a synchronisation).
    """

    def __init__(self, rec_path, idx_path, options, seed=0, train=True, part=(0, 1)):
        if int(seed) < 0:
            raise ValueError('seed must be >= 0, got %r' % (seed,))
        self._rec_path = existing_file(rec_path)
        self._idx_path = existing_file(idx_path)
        super().__init__(rec_num_samples(self._idx_path))
        self._options = dict(options)
        self._batch_size = int(options['batch_size'])
        self._seed = int(seed)
        self._train = bool(train)
        self._part_index, self._parts = int(part[0]), int(part[1])
        if self._parts > 1:
            self._options.update(num_parts=self._parts, part_index=self._part_index)

    def __len__(self):
        if self._parts > 1:
            return (self._num_samples // self._parts) // self._batch_size
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
                if self._parts > 1 and yielded == len(self):
                    return  # the batches every worker has
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
        """A new ImageRecordIter for ``epoch`` (it decodes the first batch right away)."""
        seeds = {}
        if self._train:  # 31 bits: ImageRecordIter's seeds are signed 32-bit ints
            keys = (self._part_index,) if self._parts > 1 else ()
            seeds = {'seed': derived_seed(self._seed, epoch, SHUFFLE_STREAM),
                     'seed_aug': derived_seed(self._seed, epoch, AUGMENTATION_STREAM, *keys)}
        try:
            return mx.io.ImageRecordIter(path_imgrec=self._rec_path, path_imgidx=self._idx_path,
                                         **self._options, **seeds)
        except StopIteration:  # MXDataIter draws the first batch in its constructor
            return iter(())

    def _guarded(self, call, *args):
        """``call(*args)``, turning a C++ failure (corrupt record) into a DataError."""
        try:
            return call(*args)
        except mx.base.MXNetError as exc:
            raise DataError('%s: reading the records failed, corrupt or truncated file? (%s)'
                            % (self._rec_path, error_reason(exc))) from None

    def _unpadded_copy(self, batch):
        """(data, label) of a DataBatch, copied to the CPU, validation padding dropped."""
        # ImageRecordIter recycles its output buffers as soon as the next batch is drawn
        # (batches kept in a list change under you), hence the copies.
        keep = self._batch_size if self._train else self._batch_size - batch.pad
        data = batch.data[0][:keep].copyto(mx.cpu())
        label = batch.label[0][:keep].copyto(mx.cpu())
        return data, label


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
    folder = open_folder(root)
    return len(folder), len(folder.synsets), list(folder.synsets)


def folder_iterators(data_dir, batch_size, num_workers, input_size, crop_ratio, part=(0, 1)):
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
    part : (int, int)
        (worker index, workers) of distributed training: this worker's equal share of each
        epoch's permutation (see :class:`PartSampler`); validation reads everything.

    Returns
    -------
    (FolderBatches, FolderBatches)
        Training (shuffled by the global numpy RNG, augmented, last partial
        batch discarded) and validation (fixed order, resized and centre-cropped,
        last partial batch kept).
    """
    _check_sizes(batch_size, num_workers, input_size)
    data_dir = os.path.expanduser(data_dir)
    train = open_folder(os.path.join(data_dir, 'train'))
    check_batch_fits(batch_size, len(train) // part[1], os.path.join(data_dir, 'train'))
    val = open_folder(os.path.join(data_dir, 'val'))
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
    # one process: the DataLoader's own shuffle, as the official script
    order = {'shuffle': True} if part[1] == 1 else {'sampler': PartSampler(len(train), *part)}
    train_loader = DataLoader(train.transform_first(train_transform), batch_size=batch_size,
                              last_batch='discard', num_workers=num_workers, **order)
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

    Returns
    -------
    mxnet.gluon.data.vision.transforms.Compose
        HWC uint8 NDArray -> normalised float32 3 x input_size x input_size.
    """
    return transforms.Compose([
        transforms.Resize(val_resize(input_size, crop_ratio), keep_ratio=True),
        transforms.CenterCrop(input_size),
        transforms.ToTensor(),
        transforms.Normalize(FOLDER_MEAN, FOLDER_STD),
    ])


class PartSampler:
    """One worker's share of an epoch: every worker draws the same permutation from the global
    numpy RNG (seeded alike on all of them each epoch) and takes every ``parts``-th sample from
    ``index``, cut to ``n // parts``, so all workers have the same number of batches.

    Parameters
    ----------
    n : int
        Samples in the data set.
    index, parts : int
        This worker's index and the number of workers.
    """

    def __init__(self, n, index, parts):
        self._n, self._index, self._parts = int(n), int(index), int(parts)

    def __len__(self):
        return self._n // self._parts

    def __iter__(self):
        order = np.random.permutation(self._n)[self._index::self._parts][:len(self)]
        return iter(order.tolist())


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
    """ImageFolderDataset whose undecodable images raise a DataError naming the file."""

    def __getitem__(self, idx):
        try:
            return super().__getitem__(idx)
        except mx.base.MXNetError as exc:
            # A DataError pickles with its message, so it also reaches the main process intact
            # from a DataLoader worker (the worker pool re-raises it there).
            raise DataError('%s: cannot decode image (%s)'
                            % (self.items[idx][0], error_reason(exc))) from None


def open_folder(root):
    """The checked image-folder data set of the split folder ``root`` (``~`` expanded): an
    ``ImageFolderDataset`` of (HWC uint8 image, label) whose undecodable images raise a
    DataError naming the file; DataError if ``root`` has no class folder or no image."""
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


def _check_sizes(batch_size, num_workers, input_size):
    """Reject iterator sizes that would fail later inside MXNet."""
    if int(batch_size) < 1:
        raise ValueError('batch_size must be >= 1, got %r' % (batch_size,))
    if int(num_workers) < 0:
        raise ValueError('num_workers must be >= 0, got %r' % (num_workers,))
    if int(input_size) < 1:
        raise ValueError('input_size must be >= 1, got %r' % (input_size,))
