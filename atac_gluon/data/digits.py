"""scikit-learn's bundled 8x8 digits as a tiny CIFAR-shaped data set.

It needs no download, so the training scripts can run end to end on any machine
(CI, no network, CPU only) with the same 3 x 32 x 32 network input as CIFAR.
"""
import functools

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ['DIGITS_NUM_CLASSES', 'DIGITS_SIZE', 'load_digits32', 'load_digits_rgb8',
           'digits_normalization']

DIGITS_NUM_CLASSES = 10
DIGITS_SIZE = 32

_UPSCALE = DIGITS_SIZE // 8
_MAX_PIXEL = 16.0    # the bundled images hold integers 0..16
_VAL_FRACTION = 0.2
_SPLIT_SEED = 0


def load_digits32(train=True):
    """Digits upscaled to 3 x 32 x 32 and standardised, in a fixed stratified split.

    Each 8x8 pixel becomes a 4x4 block (nearest neighbour), the grey image is
    copied to 3 channels and scaled to [0, 1], then standardised with the
    training split's scalar mean and std.  Standardised input matters because the
    network's input BatchNorm never updates its running statistics.

    Parameters
    ----------
    train : bool
        The 1437-image training split if True, else the 360-image validation split
        (``train_test_split(test_size=0.2, random_state=0, stratify=labels)``).

    Returns
    -------
    images : numpy.ndarray
        float32, N x 3 x 32 x 32.
    labels : numpy.ndarray
        int32, N, values 0..9.
    """
    (train_x, train_lbl), (val_x, val_lbl) = _splits()
    # Statistics always come from the training split so both splits share them.
    mean, std = train_x.mean(), train_x.std()
    images, labels = (train_x, train_lbl) if train else (val_x, val_lbl)
    return ((images - mean) / std).astype(np.float32), labels.astype(np.int32)


@functools.lru_cache(maxsize=None)  # predict asks once per image; the split is fixed
def digits_normalization():
    """The statistics :func:`load_digits32` standardises [0, 1] images with.

    For prediction on new images, which need the training split's standardisation.

    Returns
    -------
    mean, std : float
        Scalar mean and standard deviation of the training split's [0, 1] pixels.
    """
    train_x = _splits()[0][0]
    return float(train_x.mean()), float(train_x.std())


def _splits():
    """((train images, labels), (val images, labels)) as [0, 1] 3 x 32 x 32 images."""
    digits = load_digits()
    train_img, val_img, train_lbl, val_lbl = train_test_split(
        digits.images, digits.target, test_size=_VAL_FRACTION, random_state=_SPLIT_SEED,
        stratify=digits.target)
    return (_to_rgb32(train_img), train_lbl), (_to_rgb32(val_img), val_lbl)


def _to_rgb32(images):
    """Upscale N x 8 x 8 grey images (0..16) to float32 N x 3 x 32 x 32 in [0, 1]."""
    block = np.ones((1, _UPSCALE, _UPSCALE), dtype=np.float32)
    big = np.kron(images.astype(np.float32) / _MAX_PIXEL, block)
    return np.repeat(big[:, None], 3, axis=1)


def load_digits_rgb8(train=True):
    """The split of :func:`load_digits32` as 8-bit RGB images, as image files and CIFAR
    releases store them (for tiny CIFAR-format and image-folder copies of the digits).

    Parameters
    ----------
    train : bool
        The training split if True, else the validation split.

    Returns
    -------
    images : numpy.ndarray
        uint8, N x 32 x 32 x 3 (HWC).
    labels : numpy.ndarray
        int32, N, values 0..9.
    """
    (train_x, train_lbl), (val_x, val_lbl) = _splits()
    images, labels = (train_x, train_lbl) if train else (val_x, val_lbl)
    rgb = np.round(images.transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    return rgb, labels.astype(np.int32)
