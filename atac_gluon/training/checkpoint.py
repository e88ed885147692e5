"""Atomic checkpoints (parameters + trainer states + a JSON manifest) and resume.

A checkpoint ``<stem>`` is ``<stem>.params`` (``save_parameters``: structural names, loadable by
``load_parameters``), ``<stem>.states`` (``Trainer.save_states``) and ``<stem>.json`` (epoch, best
score, the epoch's metrics record, RNG state, the run's flags). Each file is written under a
temporary name and renamed; the manifest goes last, so a manifest always describes complete files.
"""
import glob
import json
import os

import numpy as np

__all__ = ['Checkpoints', 'atomic_write_text']


def _atomic(path, write):
    tmp = path + '.tmp'
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    _atomic(path, write)


class Checkpoints(object):
    """The checkpoints of one run in ``save_dir``.

    Parameters
    ----------
    save_dir : str
        Directory of the run.
    prefix : str
        Stem of the ``last`` and periodic checkpoints: ``<prefix>-last``, ``<prefix>-<epoch>``.
    best_stem : callable
        ``best_stem(score, epoch)`` -> stem of the best checkpoint (the official naming,
        e.g. ``0.9412-cifar-ResNet20_b_3_ChaATAC-187-best``); earlier bests are removed.
    """

    def __init__(self, save_dir, prefix, best_stem):
        self.save_dir, self.prefix, self.best_stem = save_dir, prefix, best_stem

    def _path(self, stem, ext):
        return os.path.join(self.save_dir, stem + ext)

    def save(self, stem, net, trainer, info):
        """Write ``<stem>.params``, ``<stem>.states`` then ``<stem>.json`` (``info`` + files)."""
        info = dict(info, stem=stem, params=stem + '.params', states=stem + '.states',
                    numpy_rng=_rng_state())
        _atomic(self._path(stem, '.params'), net.save_parameters)
        _atomic(self._path(stem, '.states'), trainer.save_states)
        atomic_write_text(self._path(stem, '.json'), json.dumps(info, indent=1, sort_keys=True))
        return info

    def save_epoch(self, epoch, net, trainer, info, periodic, best):
        """The checkpoints of a finished epoch: always ``last``; the periodic one when
        ``periodic``; a new best (replacing the previous best) when ``best``."""
        self.save('%s-last' % self.prefix, net, trainer, info)
        if periodic:
            self.save('%s-%d' % (self.prefix, epoch), net, trainer, info)
        if best:
            previous = self.find(kind='best')
            stem = self.best_stem(info['best_score'], epoch)
            self.save(stem, net, trainer, dict(info, kind='best'))
            for old in previous:
                if old['stem'] != stem:
                    for ext in ('.json', '.params', '.states'):  # manifest first: never dangling
                        path = self._path(old['stem'], ext)
                        if os.path.exists(path):
                            os.remove(path)

    def find(self, kind=None):
        """Manifests whose files all exist, oldest epoch first (``kind='best'``: best ones)."""
        found = []
        for path in glob.glob(os.path.join(glob.escape(self.save_dir), '*.json')):
            try:
                with open(path) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                continue
            if not isinstance(info, dict) or 'epoch' not in info or 'params' not in info:
                continue  # metrics or other JSON files
            if kind is not None and info.get('kind') != kind:
                continue
            if all(os.path.exists(self._path(info['stem'], ext)) for ext in ('.params', '.states')):
                found.append(info)
        return sorted(found, key=lambda info: info['epoch'])

    def latest(self):
        """The manifest of the newest complete checkpoint, or None."""
        found = self.find()
        return found[-1] if found else None

    def best(self):
        found = self.find(kind='best')
        return found[-1] if found else None

    def restore(self, info, net, trainer, ctx):
        """Load the parameters and trainer states of manifest ``info``."""
        net.load_parameters(self._path(info['stem'], '.params'), ctx=ctx)
        trainer.load_states(self._path(info['stem'], '.states'))
        if info.get('numpy_rng'):
            state = info['numpy_rng']
            np.random.set_state((state[0], np.array(state[1], dtype=np.uint32), *state[2:]))

    def params_path(self, info):
        return self._path(info['stem'], '.params')


def _rng_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]
