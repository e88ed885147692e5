"""Fashion-MNIST (Zalando; 60,000 training and 10,000 test images, 28x28 grey, 10 classes) read
offline from its original IDX files, gzipped or not, as Debian's ``dataset-fashion-mnist``
installs them.

The input the CIFAR host gets, and why:

- **Padded to 32 x 32** (2 black pixels on each side), not fed at 28 x 28: the host's three
  stages then see 32, 16 and 8 pixels as in every CIFAR run, the model's ``input_shape``, the
  FLOP counts, ``--export`` and the 4-pixel training crops are CIFAR's unchanged, and the
  articles lie on a black background already, so the border adds background, nothing else.
- **The grey channel replicated to 3**: the host's first convolution and its input BatchNorm
  (three channels, no learned scale or shift, README) are CIFAR's, so every checkpoint, export
  and tool of the CIFAR host applies as is; the three channels stay identical throughout (same
  crop, flip and normalisation). The arrays are a broadcast view, so memory holds one channel.
- **Augmentation**: CIFAR's, the random crop with 4-pixel zero padding and the horizontal flip
  (:class:`~atac_gluon.data.batches.BatchIterator`); a mirrored garment is the same garment.
- **Normalisation**: :data:`FASHION_MNIST_MEAN` / :data:`FASHION_MNIST_STD`, the mean and
  standard deviation of the training set's pixels scaled to [0, 1] as the network receives
  them for validation (padded to 32 x 32), the same number for the three channels. A
  validation input is thereby standardised exactly, so what training and evaluation see
  differently is the input BatchNorm's doing (batch statistics of cropped images against the
  identity; README), not a choice of constants. The tests recompute them from the real files.

No download: MXNet's ``FashionMNIST`` checks SHA-1 sums and then downloads; this reads the files
where they are, and refuses truncated or foreign ones with one line naming the file.
"""
import gzip
import os
import struct
import zlib
from typing import Optional, Tuple

import numpy as np

from .errors import DataError

__all__ = ['FASHION_MNIST', 'FASHION_MNIST_DIR', 'FASHION_MNIST_CLASSES', 'FASHION_MNIST_MEAN',
           'FASHION_MNIST_STD', 'FASHION_MNIST_NUM_CLASSES', 'FASHION_MNIST_PAD',
           'load_fashion_mnist', 'load_fashion_mnist32', 'fashion_mnist_files', 'read_idx',
           'write_idx', 'to_network_images']

#: the data set's name in ``--dataset``
FASHION_MNIST = 'fashion-mnist'
#: where ``apt-get install dataset-fashion-mnist`` puts the files
FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
#: the labels' names, from the data set's README
FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                         'Sneaker', 'Bag', 'Ankle boot')
FASHION_MNIST_NUM_CLASSES = len(FASHION_MNIST_CLASSES)
#: black border added on each side: 28 x 28 -> 32 x 32
FASHION_MNIST_PAD = 2
#: mean and std of the 60,000 training images' [0, 1] pixels, padded to 32 x 32 (see above)
FASHION_MNIST_MEAN = (0.2190, 0.2190, 0.2190)
FASHION_MNIST_STD = (0.3318, 0.3318, 0.3318)

_SIDE = 28
#: the files of a split: (images, labels) base names, each read as is or with '.gz'
_FILES = {True: ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
          False: ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}
_INSTALL = 'apt-get install dataset-fashion-mnist'
_UBYTE = 0x08  # the IDX type code of unsigned bytes, the only one the data set uses


def fashion_mnist_files(data_dir: Optional[str] = None, train: bool = True) -> Tuple[str, str]:
    """The (images, labels) files of a split: ``<name>`` or ``<name>.gz`` in ``data_dir``.

    Parameters
    ----------
    data_dir : str, optional
        The folder holding the IDX files; None: :data:`FASHION_MNIST_DIR`.
    train : bool
        The training split (``train-*``) if True, else the test split (``t10k-*``).

    Raises
    ------
    DataError
        A file missing (the message names it and the Debian package) or ``data_dir`` not a
        folder.
    """
    folder = os.path.expanduser(data_dir) if data_dir is not None else FASHION_MNIST_DIR
    if not os.path.isdir(folder):
        raise DataError('no Fashion-MNIST at %s (no such directory): %s, or pass --data-dir '
                        'with its IDX files' % (folder, _INSTALL))
    paths = []
    for name in _FILES[train]:
        found = [os.path.join(folder, n) for n in (name, name + '.gz')
                 if os.path.isfile(os.path.join(folder, n))]
        if not found:
            raise DataError('no Fashion-MNIST at %s (%s[.gz] missing): %s, or pass --data-dir '
                            'with its IDX files' % (folder, name, _INSTALL))
        paths.append(found[0])  # the uncompressed one first: nothing to inflate
    return paths[0], paths[1]


def read_idx(path: str, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped if its name ends in ``.gz``) as a uint8 array.

    Parameters
    ----------
    path : str
        The file.
    ndim : int
        Dimensions it must have (3: images, 1: labels).

    Raises
    ------
    DataError
        Naming ``path``: unreadable, corrupt gzip, bad magic number, other type or dimension
        count, a payload shorter or longer than the header says.
    """
    try:
        if path.endswith('.gz'):
            with gzip.open(path, 'rb') as f:
                raw = f.read()
        else:
            with open(path, 'rb') as f:
                raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError('%s: unreadable (%s)' % (path, getattr(exc, 'strerror', None) or exc)) \
            from None
    header = 4 + 4 * ndim
    if len(raw) < 4 or raw[:2] != b'\0\0':
        raise DataError('%s: not an IDX file (bad magic number %s)' % (path, raw[:4].hex()))
    if raw[2] != _UBYTE or raw[3] != ndim:
        raise DataError('%s: IDX file of type 0x%02x with %d dimensions, expected unsigned bytes '
                        '(0x08) with %d (a Fashion-MNIST %s file?)'
                        % (path, raw[2], raw[3], ndim, 'image' if ndim == 3 else 'label'))
    if len(raw) < header:
        raise DataError('%s: truncated IDX header (%d bytes)' % (path, len(raw)))
    dims = struct.unpack('>%dI' % ndim, raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError('%s: %d data bytes, the header %s says %d (%s)'
                        % (path, len(raw) - header, 'x'.join(map(str, dims)), expected,
                           'truncated' if len(raw) - header < expected else 'trailing bytes'))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path: str, array: np.ndarray) -> str:
    """Write a uint8 array as an IDX file (gzipped if ``path`` ends in ``.gz``), the format
    :func:`read_idx` reads: for tests and the smoke data. Returns ``path``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = (bytes((0, 0, _UBYTE, array.ndim)) + struct.pack('>%dI' % array.ndim, *array.shape)
           + array.tobytes())
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(raw)
    return path


def load_fashion_mnist(data_dir: Optional[str] = None,
                       train: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """One split as stored: uint8 N x 28 x 28 images and int32 labels 0..9.

    Parameters
    ----------
    data_dir : str, optional
        The folder of the IDX files; None: :data:`FASHION_MNIST_DIR` (Debian's).
    train : bool
        The 60,000 training images if True, else the 10,000 test images.

    Raises
    ------
    DataError
        Missing files (naming ``apt-get install dataset-fashion-mnist``), or a file that is
        not what it should be (naming it): see :func:`read_idx`, plus images that are not
        28 x 28, image and label counts that differ, labels outside 0..9.
    """
    image_path, label_path = fashion_mnist_files(data_dir, train)
    images = read_idx(image_path, 3)
    labels = read_idx(label_path, 1)
    if images.shape[1:] != (_SIDE, _SIDE):
        raise DataError('%s: images of %dx%d pixels, Fashion-MNIST\'s are %dx%d'
                        % ((image_path,) + images.shape[1:] + (_SIDE, _SIDE)))
    if len(images) == 0:
        raise DataError('%s: no images' % image_path)
    if len(labels) != len(images):
        raise DataError('%s: %d labels for the %d images of %s'
                        % (label_path, len(labels), len(images), image_path))
    if labels.max() >= FASHION_MNIST_NUM_CLASSES:
        raise DataError('%s: labels outside 0..%d (label %d; file from another data set?)'
                        % (label_path, FASHION_MNIST_NUM_CLASSES - 1, labels.max()))
    return images, labels.astype(np.int32)


def to_network_images(images: np.ndarray) -> np.ndarray:
    """N x 28 x 28 grey uint8 images as the CIFAR host's input before normalisation: padded
    with black to N x 32 x 32, replicated to 3 channels (a read-only broadcast view, NHWC)."""
    pad = FASHION_MNIST_PAD
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[..., None]
    return np.broadcast_to(padded, padded.shape[:3] + (3,))


def load_fashion_mnist32(data_dir: Optional[str] = None,
                         train: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """One split as the CIFAR host reads it: uint8 N x 32 x 32 x 3 (HWC, as
    :func:`~atac_gluon.data.cifar.load_cifar` returns CIFAR; a read-only view) and int32
    labels; normalise with :data:`FASHION_MNIST_MEAN` / :data:`FASHION_MNIST_STD`. Arguments
    and errors as :func:`load_fashion_mnist`."""
    images, labels = load_fashion_mnist(data_dir, train)
    return to_network_images(images), labels
