"""The training and validation batches of each CIFAR-script data set, as the official script
prepares them (crop + flip for training, normalisation for both)."""
from .batches import BatchIterator, check_batch_fits
from .cifar import CIFAR_MEAN, CIFAR_STD, load_cifar
from .digits import load_digits32

__all__ = ['cifar_batches']


def cifar_batches(dataset, data_dir, batch_size, fine_label, seed, num_workers, log,
                  part=(0, 1)):
    """(train batches, validation batches, label set name) for ``dataset``.

    Parameters
    ----------
    dataset : str
        ``cifar10``, ``cifar100`` or ``digits``.
    data_dir : str or None
        Where the CIFAR files are (None: MXNet's dataset directory).
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

    Returns
    -------
    train_batches, val_batches : BatchIterator
        Shuffled, augmented (not digits), last partial batch discarded; in order, plain, last
        partial batch kept.
    label_set : str
        ``'digits'``, ``'standard'`` (CIFAR-10), ``'coarse'`` or ``'fine'`` (CIFAR-100).
    """
    if dataset == 'digits':
        # no augmentation: flipped digits are other digits, and the set is tiny and easy
        train = load_digits32(train=True)
        val = load_digits32(train=False)
        options = {}
        augment = False
        label_set = 'digits'
    else:
        train = load_cifar(dataset, data_dir, train=True, fine_label=fine_label)
        val = load_cifar(dataset, data_dir, train=False, fine_label=fine_label)
        options = {'mean': CIFAR_MEAN, 'std': CIFAR_STD}
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
