"""The seeds of every random draw of a run, derived from its base seed, the epoch and a stream.

Nothing random carries over from one epoch to the next: each epoch re-derives its seeds from
(``--seed``, epoch, stream), so a run resumed at epoch ``k`` draws exactly what an
uninterrupted run draws in epoch ``k``, and threads or prefetching cannot change the draws.
The streams keep the draws of one epoch apart; their numbers are part of every run's results
(a changed number changes the draws), so they are all named here.
"""
import numpy as np

__all__ = ['AUGMENTATION_STREAM', 'GLOBAL_STREAM', 'INIT_STREAM', 'SHUFFLE_STREAM',
           'derived_seed']

#: Sample order: BatchIterator's permutation, ImageRecordIter's ``seed``.
SHUFFLE_STREAM = 1
#: Crops, flips, colour: BatchIterator's per-batch generators, ImageRecordIter's ``seed_aug``.
AUGMENTATION_STREAM = 2
#: MXNet's, NumPy's and Python's global generators, reseeded at the start of each epoch
#: (``training.seeding.seed_epoch``), e.g. for mixup and the image-folder DataLoader's shuffle.
GLOBAL_STREAM = 3
#: The global generators before the first epoch (weight initialisation); derived with epoch 0.
INIT_STREAM = 4


def derived_seed(seed, epoch, stream, *keys, bits=31):
    """A seed for one stream of one epoch, as an integer of ``bits`` bits.

    The value comes from ``np.random.SeedSequence(seed, spawn_key=(epoch, stream, *keys))``,
    the node at that path of the tree ``SeedSequence(seed).spawn`` grows: nearby seeds, epochs
    or keys give unrelated values (unlike ``seed * k + epoch``), and unlike a flat entropy list
    ``[seed, epoch, stream, *keys]`` a trailing key 0 is not the same as no key.

    Parameters
    ----------
    seed : int
        The run's non-negative base seed (``--seed``).
    epoch : int
        Non-negative epoch number.
    stream : int
        What the draws are for: one of this module's ``*_STREAM`` constants.
    *keys : int
        Further non-negative numbers, e.g. the batch index of a per-batch generator.
    bits : int
        Size of the result: 31 fits a signed 32-bit int (``mx.random.seed``, ImageRecordIter's
        ``seed``), 128 suits ``np.random.default_rng``.

    Returns
    -------
    int
        In ``0 .. 2 ** bits - 1``: the SeedSequence's ``generate_state`` words, the first
        one lowest, cut to ``bits``.

    Raises
    ------
    ValueError
        A negative number, or ``bits`` < 1.
    """
    numbers = (seed, epoch, stream) + keys
    if any(int(number) < 0 for number in numbers):
        raise ValueError('seed, epoch, stream and keys must be >= 0, got %r' % (numbers,))
    if int(bits) < 1:
        raise ValueError('bits must be >= 1, got %r' % (bits,))
    sequence = np.random.SeedSequence(int(seed), spawn_key=tuple(int(n) for n in numbers[1:]))
    words = sequence.generate_state(-(-int(bits) // 32))
    value = sum(int(word) << (32 * i) for i, word in enumerate(words))
    return value & ((1 << int(bits)) - 1)
