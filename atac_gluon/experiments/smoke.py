"""The smoke scale: every configuration of a suite for one epoch on tiny real data (the digits
scikit-learn ships), on this CPU, through the same scripts and flags as the full runs. The data
is written in the formats the full runs read (a CIFAR binary release, ImageNet-style image
folders, Fashion-MNIST's gzipped IDX files), so the smoke run also passes through the real data
loaders."""
import os

import cv2
import numpy as np

from ..data.cifar import write_binary_release
from ..data.digits import load_digits_rgb8
from ..data.fashion_mnist import FASHION_MNIST, write_idx
from .suites import SMOKE_MAX_BLOCKS

__all__ = ['SMOKE_TRAIN', 'SMOKE_VAL', 'write_smoke_data', 'smoke_settings']

#: images of the digits training / validation splits in the smoke data
SMOKE_TRAIN = 320
SMOKE_VAL = 100
#: per class, for the image folders (10 classes)
SMOKE_FOLDER_TRAIN = 16
SMOKE_FOLDER_VAL = 4


def write_smoke_data(root):
    """Write the smoke data under ``root`` (once; an existing copy is kept): ``cifar/`` with a
    CIFAR-10 and a CIFAR-100 binary release, ``imagenet/{train,val}/<digit>/*.png``,
    ``fashion-mnist/`` with the four IDX files (the digits at 28 x 28, grey). Returns
    {'cifar': folder, 'imagenet': folder, 'fashion-mnist': folder}."""
    dirs = {'cifar': os.path.join(root, 'cifar'), 'imagenet': os.path.join(root, 'imagenet'),
            FASHION_MNIST: os.path.join(root, FASHION_MNIST)}
    train = [a[:SMOKE_TRAIN] for a in load_digits_rgb8(train=True)]
    val = [a[:SMOKE_VAL] for a in load_digits_rgb8(train=False)]
    _write_idx_copy(dirs[FASHION_MNIST], train, val)
    done = os.path.join(root, 'complete')
    if os.path.exists(done):
        return dirs
    for dataset in ('cifar10', 'cifar100'):
        write_binary_release(dirs['cifar'], dataset, train, val)
    for split, (images, labels), per_class in (('train', train, SMOKE_FOLDER_TRAIN),
                                               ('val', val, SMOKE_FOLDER_VAL)):
        for digit in range(10):
            folder = os.path.join(dirs['imagenet'], split, 'digit%d' % digit)
            os.makedirs(folder, exist_ok=True)
            for i, image in enumerate(images[labels == digit][:per_class]):
                cv2.imwrite(os.path.join(folder, '%d.png' % i), image[:, :, ::-1])
    with open(done, 'w') as f:  # written last: a copy cut short by a kill is rewritten
        f.write('smoke data complete\n')
    return dirs


def _write_idx_copy(folder, train, val):
    """The digits splits as Fashion-MNIST's gzipped IDX files in ``folder`` (once: a marker file
    written last says the copy is whole)."""
    done = os.path.join(folder, 'complete')
    if os.path.exists(done):
        return
    os.makedirs(folder, exist_ok=True)
    for prefix, (images, labels) in (('train', train), ('t10k', val)):
        grey = np.stack([cv2.resize(np.ascontiguousarray(image[:, :, 0]), (28, 28),
                                    interpolation=cv2.INTER_AREA) for image in images])
        write_idx(os.path.join(folder, '%s-images-idx3-ubyte.gz' % prefix), grey)
        write_idx(os.path.join(folder, '%s-labels-idx1-ubyte.gz' % prefix), labels)
    with open(done, 'w') as f:
        f.write('smoke data complete\n')


def smoke_settings(data_dirs):
    """The flag overrides of the smoke scale per script (False removes a flag), the block
    limit and the data folders, for :func:`~atac_gluon.experiments.suites.command_flags`."""
    return {
        'cifar': {'--gpus': '0', '-j': 0, '--batch-size': 32, '--lr': 0.1},
        # ResNet-50 at 32 x 32 in float32 on the CPU, from image folders
        'imagenet': {'--num-gpus': 0, '-j': 0, '--batch-size': 8, '--dtype': 'float32',
                     '--use-rec': False, '--input-size': 32, '--log-interval': 10},
        'max_blocks': SMOKE_MAX_BLOCKS,
        'data_dir': data_dirs,  # by script, and by --dataset where it has its own
    }
