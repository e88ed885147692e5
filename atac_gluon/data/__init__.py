"""Data sets and input pipelines: offline CIFAR-10/100, 32x32 digits, Fashion-MNIST, batch
iteration."""
from .batches import (TRAIN_PAD, BatchIterator, crop_flip, draw_crop_flip, random_crop_flip,
                      to_normalized_nchw)
from .cifar import (CIFAR_MEAN, CIFAR_STD, DATASETS, RECORDS_PER_FILE, cifar_num_classes,
                    default_data_dir, load_cifar)
from .digits import DIGITS_NUM_CLASSES, DIGITS_SIZE, digits_normalization, load_digits32
from .errors import DataError
from .fashion_mnist import (FASHION_MNIST, FASHION_MNIST_MEAN, FASHION_MNIST_STD,
                            load_fashion_mnist, load_fashion_mnist32)

__all__ = ['CIFAR_MEAN', 'CIFAR_STD', 'DATASETS', 'DIGITS_NUM_CLASSES', 'DIGITS_SIZE',
           'FASHION_MNIST', 'FASHION_MNIST_MEAN', 'FASHION_MNIST_STD', 'load_fashion_mnist',
           'load_fashion_mnist32',
           'RECORDS_PER_FILE', 'TRAIN_PAD', 'BatchIterator', 'DataError', 'cifar_num_classes',
           'crop_flip', 'default_data_dir', 'digits_normalization', 'draw_crop_flip', 'load_cifar',
           'load_digits32', 'random_crop_flip', 'to_normalized_nchw']
