"""Tiny fake ImageNet copies (an image-folder tree and RecordIO pairs of small random-colour
JPEGs with known labels) for the ImageNet data and training-script tests."""
import os

import cv2
import mxnet as mx
import numpy as np


def random_image(rng, size):
    """One uint8 ``size`` x ``size`` x 3 image: a random flat colour plus mild noise, so each
    image (and each class) looks different but JPEG still compresses it to a few hundred bytes."""
    colour = rng.integers(0, 256, size=3)
    noise = rng.integers(-20, 21, size=(size, size, 3))
    return np.clip(colour + noise, 0, 255).astype(np.uint8)


def class_names(classes):
    """Folder names of ``classes`` fake classes, in the sorted order ImageFolderDataset labels
    them 0 .. classes - 1 (WordNet-id-like, as the real tree)."""
    return ['n%08d' % (i * 1000 + 7) for i in range(classes)]


def write_image_folder(root, classes=3, per_class_train=4, per_class_val=2, size=40, seed=0):
    """Write ``root/train/<class>/<i>.jpg`` and ``root/val/<class>/<i>.jpg``.

    Returns
    -------
    (int, int, list of str)
        Training images, validation images, class folder names (label order).
    """
    rng = np.random.default_rng(seed)
    names = class_names(classes)
    for split, count in (('train', per_class_train), ('val', per_class_val)):
        for name in names:
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                ok, jpeg = cv2.imencode('.jpg', random_image(rng, size))
                assert ok
                with open(os.path.join(folder, '%d.jpg' % i), 'wb') as f:
                    f.write(jpeg.tobytes())
    return classes * per_class_train, classes * per_class_val, names


def write_rec_pair(prefix, num_images, num_classes, size=40, seed=0, labels=None):
    """Write ``prefix.rec`` and ``prefix.idx`` holding ``num_images`` JPEG records.

    Parameters
    ----------
    prefix : str
        Path without extension.
    num_images, num_classes : int
        Record ``i`` has label ``i % num_classes`` unless ``labels`` is given.
    size : int
        Image side.
    seed : int
        Seed of the image colours.
    labels : sequence of float, optional
        Explicit per-record labels (length ``num_images``).

    Returns
    -------
    (str, str)
        The .rec and .idx paths.
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        labels = [i % num_classes for i in range(num_images)]
    rec_path, idx_path = prefix + '.rec', prefix + '.idx'
    record = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, 'w')
    try:
        for i in range(num_images):
            header = mx.recordio.IRHeader(0, float(labels[i]), i, 0)
            record.write_idx(i, mx.recordio.pack_img(header, random_image(rng, size),
                                                     quality=90, img_fmt='.jpg'))
    finally:
        record.close()
    return rec_path, idx_path


def read_idx(idx_path):
    """[(key, offset)] of an .idx file, in file order."""
    with open(idx_path) as f:
        return [tuple(int(v) for v in line.split('\t')) for line in f if line.strip()]


def corrupt_record(rec_path, idx_path, index):
    """Overwrite the image bytes of record ``index`` (keeping the RecordIO frame and the
    IRHeader intact) with garbage, so only decoding it fails."""
    offset = dict(read_idx(idx_path))[index]
    with open(rec_path, 'r+b') as f:
        f.seek(offset + 4)
        length = int.from_bytes(f.read(4), 'little') & ((1 << 29) - 1)
        # 8-byte frame header, 24-byte IRHeader, then the JPEG: garble all of it.
        f.seek(offset + 8 + 24)
        f.write(b'\x00not a jpeg' * ((length - 24) // 11) + b'\x00' * ((length - 24) % 11))
