"""Fake CIFAR releases (every distributed layout, a few images per file, known pixels and
labels) for the data and training-script tests."""
import io
import os
import pickle
import tarfile

import numpy as np

# Images per file in the fake releases.
TINY = {('cifar10', True): 3, ('cifar10', False): 2, ('cifar100', True): 4, ('cifar100', False): 5}

FOLDERS = {('cifar10', 'binary'): 'cifar-10-batches-bin',
           ('cifar10', 'python'): 'cifar-10-batches-py',
           ('cifar100', 'binary'): 'cifar-100-binary',
           ('cifar100', 'python'): 'cifar-100-python'}
ARCHIVES = {('cifar10', 'binary'): 'cifar-10-binary.tar.gz',
            ('cifar10', 'python'): 'cifar-10-python.tar.gz',
            ('cifar100', 'binary'): 'cifar-100-binary.tar.gz',
            ('cifar100', 'python'): 'cifar-100-python.tar.gz'}


def file_names(dataset, kind, train):
    """File names of one split of a release, in load order."""
    ext = '.bin' if kind == 'binary' else ''
    if dataset == 'cifar10':
        names = ['data_batch_%d' % i for i in range(1, 6)] if train else ['test_batch']
    else:
        names = ['train'] if train else ['test']
    return [name + ext for name in names]


def fake_pixels(first_id, count):
    """Rows of 3072 bytes in file order (R plane, G plane, B plane), unique per image."""
    ids = np.arange(first_id, first_id + count)[:, None]
    return ((np.arange(3072)[None] * 7 + ids * 31) % 251).astype(np.uint8)


def fake_labels(ids):
    """(cifar10 label, cifar100 coarse, cifar100 fine) of fake image ids: all differ."""
    return (ids * 3) % 10, ids % 20, (ids * 7 + 1) % 100


def fake_file(dataset, kind, pixels, ids):
    """Content of one release file holding ``pixels`` with the labels of ``ids``."""
    label10, coarse, fine = fake_labels(ids)
    if kind == 'binary':
        heads = label10[:, None] if dataset == 'cifar10' else np.stack([coarse, fine], 1)
        return np.concatenate([heads.astype(np.uint8), pixels], 1).tobytes()
    if dataset == 'cifar10':
        content = {b'data': pixels, b'labels': label10.tolist(), b'batch_label': b'fake'}
    else:
        content = {b'data': pixels, b'fine_labels': fine.tolist(),
                   b'coarse_labels': coarse.tolist()}
    return pickle.dumps(content, protocol=2)


def release_files(dataset, kind, counts=None):
    """{file name: bytes} and {train: (hwc images, labels10, coarse, fine)} of a fake release
    with ``counts[dataset, train]`` images per file (default TINY)."""
    counts = counts or TINY
    files, expected, next_id = {}, {}, 0
    for train in (True, False):
        parts = []
        for name in file_names(dataset, kind, train):
            count = counts[dataset, train]
            pixels, ids = fake_pixels(next_id, count), np.arange(next_id, next_id + count)
            files[name] = fake_file(dataset, kind, pixels, ids)
            parts.append((pixels, ids))
            next_id += count
        pixels = np.concatenate([p for p, _ in parts])
        ids = np.concatenate([i for _, i in parts])
        images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        expected[train] = (images,) + fake_labels(ids)
    return files, expected


def write_release(root, dataset, kind, archive=False, counts=None):
    """Write a fake release folder (or archive) under ``root``; return expected arrays."""
    files, expected = release_files(dataset, kind, counts)
    folder = FOLDERS[dataset, kind]
    os.makedirs(root, exist_ok=True)
    if archive:
        with tarfile.open(os.path.join(root, ARCHIVES[dataset, kind]), 'w:gz') as tar:
            for name, raw in files.items():
                info = tarfile.TarInfo('%s/%s' % (folder, name))
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
    else:
        os.makedirs(os.path.join(root, folder))
        for name, raw in files.items():
            with open(os.path.join(root, folder, name), 'wb') as f:
                f.write(raw)
    return expected
