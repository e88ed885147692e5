"""Top-5 classes of images with a trained checkpoint, preprocessed as the validation data::

    python -m atac_gluon.predict --model cifar_resnet20_v2_atac --classes 10 --no-useReLU \
        --params runs/x/0.9412-cifar-ResNet20_b_3_ChaATAC-187-best.params --dataset cifar10 a.png

Prints one block per image: the image path, then ``<rank> <probability> <class>`` lines.
"""
import argparse
import os
import struct
import sys
import warnings

import cv2
import mxnet as mx
import numpy as np
from PIL import Image

from .data.fashion_mnist import FASHION_MNIST, FASHION_MNIST_CLASSES
from .data.imagenet import DEFAULT_CROP_RATIO
from .data.pipelines import image_input
from .cli import add_model_flags, check_model_flags, load_model, model_choice
from .errors import BadInput, run_main

__all__ = ['class_names', 'predict', 'read_image', 'read_batch']

CIFAR10_NAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
                 'truck')
DATASETS = ('cifar10', 'cifar100', 'digits', FASHION_MNIST, 'imagenet')
#: the largest image decoded (width x height): 64 megapixels, about 200 MB as RGB
MAX_IMAGE_PIXELS = 1 << 26
# first bytes of the formats Pillow reads: such a file Pillow cannot open is corrupt
_PILLOW_MAGIC = (b'\x89PNG\r\n\x1a\n', b'\xff\xd8\xff', b'GIF87a', b'GIF89a', b'BM', b'II*\x00',
                 b'MM\x00*')


def _checked_with_pillow(path):
    """(width, height) of the image once Pillow has read its header, checked the size against
    :data:`MAX_IMAGE_PIXELS` (before decoding) and decoded it, so that a huge, truncated or
    corrupt file is refused here, in one line, and not by OpenCV's decoders (which print to
    stderr); None if Pillow does not know the format."""
    with warnings.catch_warnings():
        warnings.simplefilter('error', Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
            raise BadInput('%s: image too large to decode (%s)'
                           % (path, str(err).split(',')[0])) from None
        except (OSError, SyntaxError, ValueError):
            with open(path, 'rb') as f:
                head = f.read(16)
            if head.startswith(_PILLOW_MAGIC) or (head[:4] == b'RIFF' and head[8:12] == b'WEBP'):
                raise BadInput('%s: cannot decode image (corrupt or truncated)' % path) from None
            return None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise BadInput('%s: image of %dx%d pixels, more than the %d this command decodes; '
                           'downscale it' % (path, width, height, MAX_IMAGE_PIXELS))
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as err:
            raise BadInput('%s: cannot decode image (%s)'
                           % (path, ' '.join(str(err).split())[:160])) from None
    return width, height


def read_image(path):
    """RGB uint8 HWC image; BadInput naming the file if it cannot be read, cannot be decoded, or
    its header claims more than :data:`MAX_IMAGE_PIXELS` (checked before decoding)."""
    if not os.path.isfile(path):
        raise BadInput('%s: no such image file' % path)
    known = _checked_with_pillow(path)
    image = cv2.imread(path, cv2.IMREAD_COLOR)  # the decoder the validation data used
    if image is None and known:  # e.g. GIF, which OpenCV does not read
        with Image.open(path) as decoded:
            image = np.asarray(decoded.convert('RGB'))[:, :, ::-1]
    if image is None:
        raise BadInput('%s: cannot decode image' % path)
    return image[:, :, ::-1]


def class_names(classes, dataset, classes_file=None):
    """Names of the ``classes`` outputs: from ``classes_file`` (one per line), else the
    dataset's (CIFAR-10, digits, Fashion-MNIST, ImageNet-1k), else ``class <i>``."""
    if classes_file:
        if not os.path.isfile(classes_file):
            raise BadInput('--classes-file %s: no such file' % classes_file)
        with open(classes_file) as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) < classes:
            raise BadInput('--classes-file %s: %d names for a model with %d classes'
                           % (classes_file, len(names), classes))
        return names
    if dataset == 'cifar10' and classes == 10:
        return list(CIFAR10_NAMES)
    if dataset == 'digits' and classes == 10:
        return [str(i) for i in range(10)]
    if dataset == FASHION_MNIST and classes == len(FASHION_MNIST_CLASSES):
        return list(FASHION_MNIST_CLASSES)
    if dataset == 'imagenet' and classes == 1000:
        from gluoncv.data import ImageNet1kAttr
        return list(ImageNet1kAttr().classes)
    return ['class %d' % i for i in range(classes)]


def predict(net, batch, top=5):
    """(indices, probabilities) of the ``top`` most probable classes of each image."""
    prob = mx.nd.softmax(net(mx.nd.array(batch))).asnumpy()
    order = np.argsort(-prob, axis=1)[:, :top]
    return order, np.take_along_axis(prob, order, axis=1)


def add_image_flags(parser):
    """The checkpoint and image flags of the commands that run a model on images (predict,
    visualize): --params, --dataset, --classes-file, --input-size, --crop-ratio, IMAGE..."""
    parser.add_argument('--params', required=True, help='checkpoint (.params)')
    parser.add_argument('--dataset', choices=DATASETS, default=None,
                        help='preprocessing and class names (default: cifar10 for cifar_* '
                             'models, imagenet otherwise)')
    parser.add_argument('--classes-file', default=None,
                        help='class names, one per line (e.g. CIFAR-100 fine_label_names.txt)')
    parser.add_argument('--input-size', type=int, default=224, help='ImageNet input size')
    parser.add_argument('--crop-ratio', type=float, default=DEFAULT_CROP_RATIO,
                        help='ImageNet validation crop ratio')
    parser.add_argument('images', nargs='+', metavar='IMAGE')


def read_batch(args):
    """(data set, N x 3 x H x W batch) of ``args.images`` prepared as the validation data of
    ``--dataset`` (default: the model family's)."""
    dataset = args.dataset or model_choice(args.model).dataset
    return dataset, np.concatenate([image_input(read_image(path), dataset, args.input_size,
                                                args.crop_ratio) for path in args.images])


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m atac_gluon.predict',
                                     description='Top-5 classes of images.')
    add_model_flags(parser)
    add_image_flags(parser)
    args = parser.parse_args(argv)
    check_model_flags(args)  # also --input-size, --crop-ratio
    dataset, batch = read_batch(args)
    net = load_model(args)
    classes = net(mx.nd.array(batch[:1])).shape[1]
    names = class_names(classes, dataset, args.classes_file)
    for path, indices, probs in zip(args.images, *predict(net, batch, min(5, classes))):
        print(path)
        for rank, (index, prob) in enumerate(zip(indices, probs), 1):
            print('%d %.4f %s' % (rank, prob, names[index]))


def entry():
    """Console entry point (setup.py)."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
