"""The training and validation batches of each CIFAR-script data set, as the official script
prepares them (crop + flip for training, normalisation for both), those of the ImageNet script
(RecordIO or image folders, :func:`imagenet_batches`), and the calibration batches of
an int8 export (:func:`calibration_data`), prepared as for validation, and one image as the
validation data of a data set is prepared (:func:`image_input`: predict, visualize)."""
import os

import cv2
import mxnet as mx
import numpy as np
from mxnet.gluon.data import DataLoader

from ..errors import BadInput
from .batches import BatchIterator, check_batch_fits, to_normalized_nchw
from .cifar import CIFAR_MEAN, CIFAR_STD, cifar_num_classes, load_cifar
from .digits import DIGITS_NUM_CLASSES, digits_normalization, load_digits32
from .fashion_mnist import (FASHION_MNIST, FASHION_MNIST_MEAN, FASHION_MNIST_NUM_CLASSES,
                            FASHION_MNIST_STD, load_fashion_mnist32, to_network_images)
from .imagenet import (DEFAULT_CROP_RATIO, FOLDER_MEAN, FOLDER_STD, FolderBatches,
                       folder_iterators, folder_stats, folder_val_transform, open_folder,
                       rec_iterators, rec_stats)

__all__ = ['CALIB_DATASETS', 'cifar_batches', 'imagenet_batches', 'calibration_data',
           'balanced_subset', 'input_normalization', 'image_input']

#: the data sets :func:`calibration_data` reads
CALIB_DATASETS = ('cifar10', 'cifar100', 'digits', FASHION_MNIST, 'imagenet')


#: ``--normalization``: the constants images are normalised with, the data set's own
#: (``dataset``) or CIFAR-10's (``cifar``: what the official script applies to any data)
NORMALIZATIONS = ('dataset', 'cifar')


def _train_val_arrays(dataset, data_dir, fine_label, normalization='dataset'):
    """(train, val, normalisation keywords of BatchIterator) of ``cifar10``, ``cifar100``,
    ``digits`` or ``fashion-mnist``; train and val are (images, labels) arrays."""
    if dataset == 'digits':
        return load_digits32(train=True), load_digits32(train=False), {}
    if dataset == FASHION_MNIST:
        mean, std = ((FASHION_MNIST_MEAN, FASHION_MNIST_STD) if normalization == 'dataset'
                     else (CIFAR_MEAN, CIFAR_STD))
        return (load_fashion_mnist32(data_dir, train=True),
                load_fashion_mnist32(data_dir, train=False), {'mean': mean, 'std': std})
    train = load_cifar(dataset, data_dir, train=True, fine_label=fine_label)
    val = load_cifar(dataset, data_dir, train=False, fine_label=fine_label)
    return train, val, {'mean': CIFAR_MEAN, 'std': CIFAR_STD}


def cifar_batches(dataset, data_dir, batch_size, fine_label, seed, num_workers, log,
                  part=(0, 1), train_subset=0, val_subset=0, normalization='dataset'):
    """(train batches, validation batches, label set name) for ``dataset``.

    Parameters
    ----------
    dataset : str
        ``cifar10``, ``cifar100``, ``digits`` or ``fashion-mnist``.
    data_dir : str or None
        Where the CIFAR or Fashion-MNIST files are (None: MXNet's dataset directory for CIFAR,
        Debian's folder for Fashion-MNIST).
    batch_size : int
        Global batch size (per device times devices).
    fine_label : bool
        CIFAR-100: the 100 fine labels instead of MXNet's (and the official script's) 20 coarse.
    seed : int
        Seed of shuffling and augmentation.
    num_workers : int
        Threads preparing batches.
    log : logging.Logger
    part : (int, int)
        (worker index, workers) of distributed training: each worker trains on its equal share
        of every epoch (see :class:`~atac_gluon.data.batches.BatchIterator`).
        Gets the sample counts and, for coarse CIFAR-100, a warning.
    train_subset, val_subset : int
        Train (validate) on that many samples of the split only, the same for every class as
        far as the split allows (:func:`balanced_subset`); 0: the whole split.
    normalization : str
        Fashion-MNIST: normalise with its own constants (``'dataset'``) or CIFAR-10's
        (``'cifar'``, as the official script would); CIFAR uses CIFAR's either way, and digits
        come standardised.

    Returns
    -------
    train_batches, val_batches : BatchIterator
        Shuffled, augmented (not digits), last partial batch discarded; in order, plain, last
        partial batch kept.
    label_set : str
        ``'digits'``, ``'standard'`` (CIFAR-10), ``'coarse'`` or ``'fine'`` (CIFAR-100).
    """
    train, val, options = _train_val_arrays(dataset, data_dir, fine_label, normalization)
    train = _subset(train, train_subset, '--train-subset', 'training')
    val = _subset(val, val_subset, '--val-subset', 'validation')
    if dataset == 'digits':
        # no augmentation: flipped digits are other digits, and the set is tiny and easy
        augment = False
        label_set = 'digits'
    else:
        augment = True
        label_set = 'standard'
        if dataset == 'cifar100':
            label_set = 'fine' if fine_label else 'coarse'
            if not fine_label:
                log.warning('CIFAR-100 with the 20 COARSE labels and a 100-way output, as the '
                            'official script (MXNet default) trained and the paper most likely '
                            'reports; pass --fine-label for the 100 fine labels')
    check_batch_fits(batch_size, len(train[0]) // part[1], dataset)
    train_batches = BatchIterator(*train, batch_size=batch_size, shuffle=True, augment=augment,
                                  seed=seed, last_batch='discard', num_workers=num_workers,
                                  part=part, **options)
    val_batches = BatchIterator(*val, batch_size=batch_size, shuffle=False, augment=False,
                                seed=seed, last_batch='keep', num_workers=num_workers, **options)
    log.info('%s: %d training / %d validation samples, %d batches of %d per epoch%s', dataset,
             len(train[0]), len(val[0]), len(train_batches), batch_size,
             ' on each of %d workers' % part[1] if part[1] > 1 else '')
    return train_batches, val_batches, label_set


def balanced_subset(labels, count):
    """Indices (in file order) of ``count`` samples spread evenly over the classes: the first
    image of every class, then the second of every class, and so on, so a subset of a shuffled
    file is balanced and any smaller subset is part of a larger one.

    Parameters
    ----------
    labels : numpy.ndarray
        The split's integer labels.
    count : int
        Samples wanted; 0 or at least ``len(labels)``: all of them.
    """
    labels = np.asarray(labels)
    if not count or count >= len(labels):
        return np.arange(len(labels))
    rank = np.empty(len(labels), dtype=np.int64)  # the sample's place among its class's
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        rank[where] = np.arange(len(where))
    return np.sort(np.lexsort((np.arange(len(labels)), rank))[:count])


def _subset(split, count, flag, name):
    """(images, labels) of ``split`` cut to :func:`balanced_subset`; BadInput if ``count``
    exceeds the split."""
    images, labels = split
    if count > len(labels):
        raise BadInput('%s %d: the %s split has %d samples' % (flag, count, name, len(labels)))
    if not count or count == len(labels):
        return split
    keep = balanced_subset(labels, count)
    return images[keep], labels[keep]


def calibration_data(dataset, data_dir=None, batch_size=32, num_batches=10, input_size=224,
                     crop_ratio=0.875, fine_label=False, seed=0):
    """Calibration batches from the training split and the validation batches of a data set,
    both prepared as for validation (normalised, no augmentation; ImageNet resized and
    centre-cropped).

    The calibration images are the first ``num_batches * batch_size`` of a seeded permutation
    of the training split: real inputs the network was fitted on, none of the validation
    images the accuracy is then measured on.

    Parameters
    ----------
    dataset : str
        ``'cifar10'``, ``'cifar100'``, ``'digits'``, ``'fashion-mnist'`` or ``'imagenet'``
        (image folders
        ``<data_dir>/train/<class>/*`` and ``<data_dir>/val/<class>/*``).
    data_dir : str, optional
        Where the data set is: CIFAR as for :func:`~atac_gluon.data.cifar.load_cifar` (None:
        MXNet's directory), Fashion-MNIST's IDX files (None: Debian's folder), required for
        ImageNet, refused for digits (bundled).
    batch_size, num_batches : int
        Calibration batches (the validation batches have ``batch_size`` too).
    input_size, crop_ratio : int, float
        ImageNet only: network input side and validation crop ratio.
    fine_label : bool
        CIFAR-100: the 100 fine labels instead of the 20 coarse ones.
    seed : int
        Seed of the permutation the calibration images are drawn from.

    Returns
    -------
    calib : list of (NDArray, NDArray)
        At most ``num_batches`` batches (fewer if the split is smaller).
    val : iterable of (NDArray, NDArray)
        The whole validation split.
    num_classes : int
        Labels of the data set (CIFAR-100 coarse: 20).
    """
    if dataset not in CALIB_DATASETS:
        raise BadInput('unknown calibration data set %r; valid: %s'
                       % (dataset, ', '.join(CALIB_DATASETS)))
    for name, value in (('batch_size', batch_size), ('num_batches', num_batches)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInput('%s must be a positive integer, got %r' % (name, value))
    if dataset == 'imagenet':
        return _imagenet_calibration(data_dir, batch_size, num_batches, input_size, crop_ratio,
                                     seed)
    if dataset == 'digits' and data_dir is not None:
        raise BadInput('digits are bundled with scikit-learn: they take no data directory')
    train, val, options = _train_val_arrays(dataset, data_dir, fine_label)
    num_classes = (DIGITS_NUM_CLASSES if dataset == 'digits' else FASHION_MNIST_NUM_CLASSES
                   if dataset == FASHION_MNIST else cifar_num_classes(dataset, fine_label))
    order = _calibration_order(len(train[0]), batch_size * num_batches, seed)
    calib = list(BatchIterator(train[0][order], train[1][order], batch_size,
                               last_batch='keep', **options))
    val_batches = BatchIterator(*val, batch_size=batch_size, last_batch='keep', **options)
    return calib, val_batches, num_classes


def _calibration_order(num_samples, count, seed):
    """The indices of the calibration images: the first ``count`` of a seeded permutation."""
    return np.random.RandomState(seed).permutation(num_samples)[:count]


def _imagenet_calibration(data_dir, batch_size, num_batches, input_size, crop_ratio, seed):
    """:func:`calibration_data` of the image folders ``data_dir/train`` and ``data_dir/val``,
    through the validation transform of the training pipeline."""
    if data_dir is None:
        raise BadInput('imagenet calibration needs the image folders\' directory '
                       '(<dir>/train/<class>/*.jpg and <dir>/val/<class>/*.jpg)')
    data_dir = os.path.expanduser(data_dir)
    train = open_folder(os.path.join(data_dir, 'train'))
    val = open_folder(os.path.join(data_dir, 'val'))
    if val.synsets != train.synsets:
        raise BadInput('%s: class folders differ from those of %s'
                       % (os.path.join(data_dir, 'val'), os.path.join(data_dir, 'train')))
    transform = folder_val_transform(input_size, crop_ratio)
    order = _calibration_order(len(train), batch_size * num_batches, seed)
    subset = mx.gluon.data.SimpleDataset([train[int(i)] for i in order])
    calib = list(FolderBatches(DataLoader(subset.transform_first(transform),
                                          batch_size=batch_size), len(subset)))
    val_batches = FolderBatches(DataLoader(val.transform_first(transform),
                                           batch_size=batch_size), len(val))
    return calib, val_batches, len(train.synsets)


def imagenet_batches(data_dir, rec_files, batch_size, num_workers, input_size, crop_ratio, seed,
                     log, classes=None, part=(0, 1)):
    """(train batches, validation batches, classes) of the ImageNet script's data.

    Parameters
    ----------
    data_dir : str
        Image folders ``<data_dir>/train/<class>/*`` and ``<data_dir>/val/<class>/*`` (used
        without ``rec_files``).
    rec_files : sequence of str, or None
        The RecordIO files ``train.rec, train.idx, val.rec, val.idx`` (``--use-rec``).
    batch_size : int
        Global batch size (per device times devices).
    num_workers : int
        Decoding threads (RecordIO) or DataLoader workers (folders).
    input_size, crop_ratio : int, float
        Network input side; validation crop ratio.
    seed : int
        Seed of RecordIO shuffling and augmentation (folders: the per-epoch global seed).
    log : logging.Logger
        Gets the sample and class counts.
    classes : int, optional
        ``--classes``: the network's classes; the data may hold fewer labels (None: the data's).
    part : (int, int)
        (worker index, workers) of distributed training.

    Returns
    -------
    train_batches, val_batches
        With ``set_epoch(epoch)``, ``len`` and iteration of (data, label) NDArrays.
    classes : int
        The network's classes: ``classes`` if given, else the data's.
    """
    if rec_files:
        rec_train, rec_train_idx, rec_val, rec_val_idx = rec_files
        # the headers are read in full (seconds for ImageNet) to count the classes and to
        # catch a bad index, which would abort the process inside ImageRecordIter's threads
        samples, found = rec_stats(rec_train, rec_train_idx)
        _, val_found = rec_stats(rec_val, rec_val_idx)
        classes = _number_of_classes(classes, max(found, val_found), rec_train)
        train, val = rec_iterators(rec_train, rec_train_idx, rec_val, rec_val_idx, batch_size,
                                   num_workers, input_size, crop_ratio, seed, part)
    else:
        samples, found, _ = folder_stats(os.path.join(os.path.expanduser(data_dir), 'train'))
        classes = _number_of_classes(classes, found, data_dir)
        train, val = folder_iterators(data_dir, batch_size, num_workers, input_size, crop_ratio,
                                      part)
    log.info('%s: %d training samples, %d classes, %d batches of %d per epoch%s',
             'RecordIO' if rec_files else data_dir, samples, classes, len(train), batch_size,
             ' on each of %d workers' % part[1] if part[1] > 1 else '')
    return train, val, classes


def _number_of_classes(flag, found, source):
    """The model's classes: ``--classes`` if given, else the data's; BadInput when the data has
    fewer than 2 or more labels than ``--classes`` allows."""
    if found < 2:
        raise BadInput('%s: %d class found; classification needs at least 2' % (source, found))
    if flag is not None and flag < found:
        raise BadInput('--classes %d is smaller than the %d classes (labels 0..%d) of %s'
                       % (flag, found, found - 1, source))
    return flag or found


def input_normalization(dataset):
    """(mean, std) that ``dataset``'s network inputs are standardised with, on [0, 1] pixels:
    per RGB channel, or one value each for digits (grey, standardised as its training split)."""
    if dataset == 'digits':
        return digits_normalization()
    return {'imagenet': (FOLDER_MEAN, FOLDER_STD),
            FASHION_MNIST: (FASHION_MNIST_MEAN, FASHION_MNIST_STD)}.get(
                dataset, (CIFAR_MEAN, CIFAR_STD))


def image_input(image, dataset, input_size=224, crop_ratio=DEFAULT_CROP_RATIO):
    """1 x 3 x H x W float32 network input, as the validation data of ``dataset`` is prepared.

    Parameters
    ----------
    image : numpy.ndarray
        RGB uint8 HWC image.
    dataset : str
        cifar10 / cifar100 (32x32, CIFAR normalisation; other sizes are resized to 32x32),
        digits (grey, 32x32, standardised as the training split), fashion-mnist (grey, resized
        to 28x28, padded to 32x32 with black, 3 channels, the data set's normalisation: the
        articles are light on black, as in the data set), imagenet (resize, centre crop,
        ImageNet normalisation: the official validation transform).
    input_size, crop_ratio
        ImageNet validation geometry.
    """
    if dataset == 'imagenet':
        return folder_val_transform(input_size, crop_ratio)(mx.nd.array(image, dtype='uint8')) \
            .expand_dims(0).asnumpy()
    mean, std = input_normalization(dataset)
    if dataset == FASHION_MNIST:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        if grey.shape != (28, 28):
            grey = cv2.resize(grey, (28, 28), interpolation=cv2.INTER_AREA)
        return to_normalized_nchw(to_network_images(grey[None]), mean, std)
    if image.shape[:2] != (32, 32):
        image = cv2.resize(np.ascontiguousarray(image), (32, 32), interpolation=cv2.INTER_AREA)
    if dataset == 'digits':
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY) / 255.0
        return np.repeat(((grey - mean) / std)[None, None], 3, axis=1).astype(np.float32)
    return to_normalized_nchw(image[None], mean, std)
