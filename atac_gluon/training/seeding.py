"""The global random generators of a run, reseeded per epoch from ``--seed``."""
import random

import mxnet as mx
import numpy as np

from ..data.seeds import GLOBAL_STREAM, INIT_STREAM, derived_seed

__all__ = ['seed_epoch']


def seed_epoch(seed: int, epoch: int) -> None:
    """Seed MXNet, NumPy and Python for one epoch, so a run resumed at any epoch draws what an
    uninterrupted run draws."""
    # epoch -1: the weight initialisation before the first epoch
    value = (derived_seed(seed, 0, INIT_STREAM) if epoch < 0
             else derived_seed(seed, epoch, GLOBAL_STREAM))  # 31 bits: mx.random.seed's int
    mx.random.seed(value)
    np.random.seed(value)
    random.seed(value)
