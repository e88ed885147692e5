"""Whole-batch augmentation and a deterministic, optionally threaded batch iterator.

The official CIFAR pipeline transforms one image at a time (gluoncv
``RandomCrop(32, pad=4)``, ``RandomFlipLeftRight``, ``ToTensor``, ``Normalize``),
which starves a 2-core machine.  Here the same transforms act on a whole batch
with a few vectorised numpy operations, and every random draw comes from a
generator derived from (seed, epoch, batch index) by ``seeds.derived_seed``, so the
batches do not depend on the number of worker threads nor on whether a run was resumed.
"""
import collections
import concurrent.futures
import functools

import mxnet as mx
import numpy as np

from .errors import DataError
from .seeds import AUGMENTATION_STREAM, SHUFFLE_STREAM, derived_seed

__all__ = ['TRAIN_PAD', 'BatchIterator', 'EpochBatches', 'check_batch_fits', 'crop_flip',
           'draw_crop_flip', 'random_crop_flip', 'to_normalized_nchw']

#: Zero padding of the official training-set RandomCrop(32, pad=4).
TRAIN_PAD = 4

_LAST_BATCH = ('discard', 'keep')


def draw_crop_flip(num, pad, rng):
    """Draw per-sample crop offsets and flip decisions, as ``random_crop_flip`` does.

    Parameters
    ----------
    num : int
        Number of samples.
    pad : int
        Padding on each side; offsets are uniform in ``0 .. 2 * pad`` like
        ``mx.image.random_crop`` on the padded image.
    rng : numpy.random.Generator or int or numpy.random.SeedSequence
        Source of randomness (anything ``numpy.random.default_rng`` accepts).

    Returns
    -------
    offsets : numpy.ndarray
        int, num x 2: (row, column) of each crop's top-left corner in the padded image.
    flips : numpy.ndarray
        bool, num: mirror left-right (probability 0.5).
    """
    rng = np.random.default_rng(rng)
    offsets = rng.integers(0, 2 * pad + 1, size=(num, 2))
    flips = rng.random(num) < 0.5
    return offsets, flips


def crop_flip(batch, offsets, flips, pad):
    """Zero-pad a NHWC batch, crop each sample at its offset and mirror the flagged ones.

    One fancy-indexing gather does crop and flip together, with no Python loop
    over samples.

    Parameters
    ----------
    batch : numpy.ndarray
        N x H x W x C, any dtype.
    offsets : numpy.ndarray
        int, N x 2, as returned by ``draw_crop_flip``.
    flips : numpy.ndarray
        bool, N.
    pad : int
        Zero padding on each spatial side before cropping back to H x W.

    Returns
    -------
    numpy.ndarray
        N x H x W x C, same dtype, C-contiguous.
    """
    num, height, width = batch.shape[:3]
    padded = np.pad(batch, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    rows = offsets[:, :1] + np.arange(height)
    cols = offsets[:, 1:] + np.arange(width)
    cols = np.where(flips[:, None], cols[:, ::-1], cols)
    return padded[np.arange(num)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_crop_flip(batch, pad, rng, layout='NHWC'):
    """Random crop with zero padding and random left-right flip of a whole batch.

    Per image this equals gluoncv ``RandomCrop(size, pad=pad)`` followed by
    ``RandomFlipLeftRight``.

    Parameters
    ----------
    batch : numpy.ndarray
        N x H x W x C (``layout='NHWC'``, e.g. uint8 CIFAR images) or N x C x H x W
        (``layout='NCHW'``, e.g. already standardised float32 digits).
    pad : int
        Zero padding on each spatial side.
    rng : numpy.random.Generator or int or numpy.random.SeedSequence
        Source of randomness; offsets and flips are drawn by ``draw_crop_flip``.
    layout : str
        ``'NHWC'`` or ``'NCHW'``.

    Returns
    -------
    numpy.ndarray
        Same shape, dtype and layout as ``batch``, C-contiguous.
    """
    if layout not in ('NHWC', 'NCHW'):
        raise ValueError('layout must be NHWC or NCHW, not %r' % (layout,))
    offsets, flips = draw_crop_flip(len(batch), pad, rng)
    if layout == 'NHWC':
        return crop_flip(batch, offsets, flips, pad)
    nhwc = crop_flip(batch.transpose(0, 2, 3, 1), offsets, flips, pad)
    return np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))


def to_normalized_nchw(batch, mean, std):
    """``ToTensor`` + ``Normalize`` for a whole batch: /255, HWC->CHW, (x - mean) / std.

    Parameters
    ----------
    batch : numpy.ndarray
        uint8, N x H x W x C.
    mean, std : sequence of float
        Per-channel statistics of pixels scaled to [0, 1], e.g. ``CIFAR_MEAN``.

    Returns
    -------
    numpy.ndarray
        float32, N x C x H x W, C-contiguous.
    """
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if mean.shape != (batch.shape[-1],) or std.shape != mean.shape:
        raise ValueError('mean and std need one value per channel (%d), got %s and %s'
                         % (batch.shape[-1], mean.shape, std.shape))
    # Folding /255 and /std into one scale leaves one multiply and one subtract pass.
    scale = (1.0 / (255.0 * std))[:, None, None]
    shift = (mean / std)[:, None, None]
    out = np.multiply(batch.transpose(0, 3, 1, 2), scale, dtype=np.float32, order='C')
    out -= shift
    return out


def check_batch_fits(batch_size, num_samples, source):
    """Refuse a training batch larger than the training set.

    A larger batch would train nothing (or the same few samples repeated).

    Parameters
    ----------
    batch_size : int
        The global batch: per-device ``--batch-size`` times the devices.
    num_samples : int
        Training samples of ``source``.
    source : str
        The data set or file, for the message.

    Raises
    ------
    DataError
        ``batch_size`` > ``num_samples``.
    """
    if int(batch_size) > int(num_samples):
        raise DataError('the batch of %d (--batch-size per device x devices) is larger than the '
                        '%d training samples of %s; lower --batch-size'
                        % (batch_size, num_samples, source))


class EpochBatches:
    """What the training loop needs of a data source: ``set_epoch(epoch)`` before each pass,
    ``len()`` batches, iteration over (data, label) NDArrays. Subclasses iterate.

    Parameters
    ----------
    num_samples : int
        Samples in the data set (including any discarded remainder).
    """

    def __init__(self, num_samples):
        self._num_samples = int(num_samples)
        self._epoch = 0

    @property
    def epoch(self):
        """int: The epoch the next iteration produces."""
        return self._epoch

    @property
    def num_samples(self):
        """int: Samples in the data set (including any discarded remainder)."""
        return self._num_samples

    def set_epoch(self, epoch):
        """Select the epoch whose batches the next iteration yields.

        Parameters
        ----------
        epoch : int
            Non-negative epoch number.
        """
        if int(epoch) < 0:
            raise ValueError('epoch must be >= 0, got %r' % (epoch,))
        self._epoch = int(epoch)


class BatchIterator(EpochBatches):
    """Deterministic mini-batches as MXNet NDArrays, optionally prepared by threads.

    Epoch ``e`` shuffles with a generator seeded from (seed, e) and augments
    batch ``i`` with one seeded from (seed, e, i) (``seeds.derived_seed``).  Hence
    ``set_epoch(k)`` alone reproduces epoch ``k`` of an uninterrupted run, and
    ``num_workers`` only changes speed, never the batches.  Call ``set_epoch``
    before each epoch (otherwise every pass repeats the same epoch).

    Parameters
    ----------
    data : numpy.ndarray
        Either uint8 N x H x W x C images (CIFAR; cropped and flipped as uint8,
        then normalised with ``mean`` / ``std``) or already normalised float32
        N x C x H x W (digits; cropped and flipped as is).  In the float32 case
        the crop pads with 0, which after standardisation is the training mean
        rather than black.
    labels : numpy.ndarray
        N integer labels; yielded as float32.
    batch_size : int
        Samples per batch.
    shuffle : bool
        Permute the samples each epoch.
    augment : bool
        Random crop with ``pad`` zero padding and random left-right flip.
    mean, std : sequence of float, optional
        Per-channel normalisation for uint8 data (e.g. ``CIFAR_MEAN``,
        ``CIFAR_STD``); required for uint8 data, ignored for float32 data.
    seed : int
        Non-negative base seed.
    last_batch : str
        ``'discard'`` drops a final partial batch (training, as the official
        DataLoader); ``'keep'`` yields it (validation).
    num_workers : int
        0 prepares batches in the calling thread; otherwise a pool of that many
        threads prepares up to ``2 * num_workers`` upcoming batches (numpy
        releases the GIL), yielded in order.
    pad : int
        Crop padding when ``augment`` is set.
    part : (int, int)
        (index, parts): this worker's share of each epoch in distributed training. Every
        worker draws the same permutation and takes every ``parts``-th sample from ``index``,
        cut to ``len(data) // parts``, so all workers have the same number of batches (an
        unequal count would leave the others waiting for ever at a synchronisation).
    """

    def __init__(self, data, labels, batch_size, shuffle=False, augment=False, mean=None,
                 std=None, seed=0, last_batch='discard', num_workers=0, pad=TRAIN_PAD,
                 part=(0, 1)):
        _check_arguments(data, labels, batch_size, seed, last_batch, num_workers)
        self._part_index, self._parts = int(part[0]), int(part[1])
        if not 0 <= self._part_index < self._parts:
            raise ValueError('part must be (index, parts) with 0 <= index < parts, got %r'
                             % (part,))
        super().__init__(len(data) // self._parts)
        self._images = data.dtype == np.uint8
        if self._images and (mean is None or std is None):
            raise ValueError('uint8 image data needs mean and std to normalise with')
        self._data = data
        self._labels = np.asarray(labels, dtype=np.float32)
        self._batch_size = int(batch_size)
        self._shuffle = bool(shuffle)
        self._augment = bool(augment)
        self._mean, self._std = mean, std
        self._seed = int(seed)
        self._keep_last = last_batch == 'keep'
        self._num_workers = int(num_workers)
        self._pad = int(pad)

    def channel_statistics(self, chunk=1024):
        """Per-channel mean and variance of the samples as the network receives them.

        Over the whole data set whatever ``part`` is (distributed workers agree), accumulated
        in float64 by numpy, after the normalisation, and, when ``augment`` is set, in
        expectation over the random crops: padding matters. The crop's zero padding (0 in the
        stored array: black before the normalisation, ``-mean / std`` after it, about -2.4 for
        CIFAR; the data mean for standardised float32 data) fills on average
        ``1 - (1 - E|offset - pad| / H) (1 - E|offset - pad| / W)`` of every training input,
        about 13 % with ``pad`` 4 on 32 x 32, and training batches are standardised with
        statistics that include it. Flips move pixels within a channel and change nothing.

        Parameters
        ----------
        chunk : int
            Samples converted to float64 at a time (bounds the memory).

        Returns
        -------
        mean, var : numpy.ndarray
            float64, one value per channel: the expectations of a training batch's mean and
            (population) variance.
        """
        images = self._images
        num, height, width = ((len(self._data),) + (self._data.shape[1:3] if images
                                                     else self._data.shape[2:4]))
        weights = (_crop_coverage(height, width, self._pad) if self._augment
                   else np.ones((height, width)))
        subscripts = 'nhwc,hw->c' if images else 'nchw,hw->c'
        channels = self._data.shape[3] if images else self._data.shape[1]
        sums, squares = np.zeros(channels), np.zeros(channels)
        for start in range(0, num, chunk):
            block = self._data[start:start + chunk].astype(np.float64)
            sums += np.einsum(subscripts, block, weights)
            squares += np.einsum(subscripts, block * block, weights)
        # the padded pixels are 0 in the stored array: they add to the count only
        mean = sums / (num * height * width)
        var = np.maximum(squares / (num * height * width) - mean * mean, 0.0)
        if images:  # to_normalized_nchw is (x / 255 - m) / s per channel, an affine map
            scale = 1.0 / (255.0 * np.asarray(self._std, dtype=np.float64))
            mean = mean * scale - np.asarray(self._mean, dtype=np.float64) * (255.0 * scale)
            var = var * scale * scale
        return mean, var

    def __len__(self):
        full, rest = divmod(len(self._data) // self._parts, self._batch_size)
        return full + (1 if rest and self._keep_last else 0)

    def __iter__(self):
        epoch = self._epoch  # fixed now, so set_epoch during iteration cannot mix epochs
        order = self._permutation(epoch)
        size = self._batch_size
        jobs = (functools.partial(self._make_batch, epoch, i, order[i * size:(i + 1) * size])
                for i in range(len(self)))
        batches = self._prefetched(jobs) if self._num_workers else (job() for job in jobs)
        try:
            # NDArrays are created here, in the consuming thread, not in the workers.
            for data, labels in batches:
                yield mx.nd.array(data, dtype=np.float32), mx.nd.array(labels, dtype=np.float32)
        finally:
            batches.close()  # stops the worker pool at once if the consumer breaks early

    def _permutation(self, epoch):
        """Sample order of ``epoch``."""
        order = np.arange(len(self._data))
        if self._shuffle:
            rng = np.random.default_rng(derived_seed(self._seed, epoch, SHUFFLE_STREAM,
                                                     bits=128))
            order = rng.permutation(len(self._data))
        if self._parts > 1:
            order = order[self._part_index::self._parts][:len(self._data) // self._parts]
        return order

    def _make_batch(self, epoch, index, samples):
        """Batch ``index`` of ``epoch``: ``samples`` gathered, augmented, normalised (numpy)."""
        data = self._data[samples]
        if self._augment:
            keys = (index,) if self._parts == 1 else (index, self._part_index)
            rng = derived_seed(self._seed, epoch, AUGMENTATION_STREAM, *keys, bits=128)
            data = random_crop_flip(data, self._pad, rng,
                                    layout='NHWC' if self._images else 'NCHW')
        if self._images:
            data = to_normalized_nchw(data, self._mean, self._std)
        return data, self._labels[samples]

    def _prefetched(self, jobs):
        """The batch ``jobs``' results in order, run by threads ``2 * num_workers`` ahead."""
        ahead = 2 * self._num_workers
        pending = collections.deque()
        pool = concurrent.futures.ThreadPoolExecutor(self._num_workers,
                                                     thread_name_prefix='atac-batches')
        try:
            for job in jobs:
                pending.append(pool.submit(job))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # Reached too when the consumer stops early: drop work nobody will read.
            pool.shutdown(wait=True, cancel_futures=True)


def _crop_coverage(height, width, pad):
    """H x W probabilities that a random crop (``draw_crop_flip``'s uniform offsets in
    ``0 .. 2 * pad`` on the zero-padded image) keeps each pixel of the image."""
    offsets = np.arange(2 * pad + 1)[:, None]

    def along(size):
        kept = np.arange(size)[None] - offsets + pad  # the pixel's place in the crop
        return ((kept >= 0) & (kept < size)).mean(axis=0)
    return np.outer(along(height), along(width))


def _check_arguments(data, labels, batch_size, seed, last_batch, num_workers):
    """Reject BatchIterator arguments that would fail later or silently misbehave."""
    if not isinstance(data, np.ndarray) or data.ndim != 4 or \
            data.dtype not in (np.uint8, np.float32):
        raise ValueError('data must be uint8 N x H x W x C or float32 N x C x H x W numpy, '
                         'got %s' % (getattr(data, 'dtype', type(data)),))
    if len(labels) != len(data):
        raise ValueError('%d labels for %d samples' % (len(labels), len(data)))
    if int(batch_size) < 1:
        raise ValueError('batch_size must be >= 1, got %r' % (batch_size,))
    if int(seed) < 0:
        raise ValueError('seed must be >= 0, got %r' % (seed,))
    if last_batch not in _LAST_BATCH:
        raise ValueError('last_batch must be one of %s, got %r' % (_LAST_BATCH, last_batch))
    if int(num_workers) < 0:
        raise ValueError('num_workers must be >= 0, got %r' % (num_workers,))
