"""Checkpoints that a crash, a full disk or Ctrl-C cannot tear.

A checkpoint ``<stem>`` is ``<stem>.params`` (``save_parameters``: structural names, loadable by
``load_parameters``), ``<stem>.states`` (``Trainer.save_states``) and the manifest ``<stem>.json``
(epoch, best score, the epoch's metrics record, NumPy's RNG state, the run's flags, and the size
and SHA-256 of both files). Stems carry the epoch (``<prefix>-<epoch>``, the official
``<score>-<dataset>-<model>-<epoch>-best``), so a save never replaces a file that a committed
manifest names, and the manifest is the single commit point:

1. ``.params`` and ``.states`` are written under ``*.partial.*`` names, fsynced and renamed;
2. the directory is fsynced, then the manifest is written the same way (the commit);
3. only then are the checkpoints that are no longer kept removed, data files before their
   manifest (a manifest whose files are gone is skipped, never trusted).

A kill at any instant therefore leaves every manifest describing exactly the files it names;
resume takes the newest checkpoint whose files verify and logs why it skipped any newer one.
Files that no manifest names are refused (exit 2), unless they are the one save in progress at
the kill (the newest committed epoch's best, or the next epoch's files), which is redone.
"""
import errno
import glob
import hashlib
import json
import os
import shutil

import mxnet as mx
import numpy as np

from ..errors import BadInput, WriteFailed, error_reason
from ..files import PARTIAL as _PARTIAL
from ..files import atomic_write_text, fsync, write_durably
from ..onednn import settle_weights

__all__ = ['Checkpoints', 'remove_partials', 'log_skipped', 'FORMAT']

FORMAT = 'atac-gluon-checkpoint/2'
_DATA = ('.params', '.states')


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _file_entry(path):
    return {'name': os.path.basename(path), 'size': os.path.getsize(path), 'sha256': _sha256(path)}


def _write_failure(err, what, save_dir, committed):
    reason = err.strerror or str(err) if isinstance(err, OSError) else error_reason(err)
    kept = ('the checkpoint of epoch %d is intact' % committed if committed is not None
            else 'no checkpoint was complete yet')
    return WriteFailed('cannot write %s in %s (%s); %s' % (what, save_dir, reason, kept))


class Checkpoints:
    """The checkpoints of one run in ``save_dir``.

    Parameters
    ----------
    save_dir : str
        Directory of the run.
    prefix : str
        Stem of the per-epoch checkpoints: ``<prefix>-<epoch>``.
    best_stem : callable
        ``best_stem(score, epoch)`` -> stem of the best checkpoint (the official naming,
        e.g. ``0.9412-cifar-ResNet20_b_3_ChaATAC-187-best``); it must end in
        ``-<epoch>-best``. Earlier bests are removed once a new one is committed.
    """

    def __init__(self, save_dir, prefix, best_stem):
        self.save_dir, self.prefix, self.best_stem = save_dir, prefix, best_stem
        self.committed_epoch = None  # newest epoch committed by this process or found on disk
        self.uncommitted = []  # files of the save a crash interrupted (found by scan)

    def _path(self, name):
        return os.path.join(self.save_dir, name)

    # --- reading the directory ------------------------------------------------------------

    def scan(self):
        """The valid manifests (newest epoch first, an epoch's own checkpoint before its best).

        Raises BadInput, naming the files, for a manifest that cannot be read or was edited
        (when data files sit beside it) and for ``.params``/``.states`` files that no manifest
        names and that are not the save interrupted by a crash.
        """
        if not os.path.isdir(self.save_dir):
            return []
        names = set(os.listdir(self.save_dir))
        manifests, refused = [], []
        for name in sorted(n for n in names if n.endswith('.json') and _PARTIAL + '.' not in n):
            stem = name[:-len('.json')]
            beside = [stem + ext for ext in _DATA if stem + ext in names]
            info, problem = _read_manifest(self._path(name))
            if info is None:
                if beside:
                    refused.append('%s is %s (beside %s)' % (name, problem, ', '.join(beside)))
                continue  # some other JSON file
            manifests.append(info)
        named = {entry['name'] for info in manifests for entry in info['files'].values()}
        exported = {n[:-len('-symbol.json')] + '-0000.params' for n in names
                    if n.endswith('-symbol.json')}
        newest = max([info['epoch'] for info in manifests], default=-1)
        in_progress = set()
        for epoch in (newest, newest + 1):
            in_progress.add('%s-%d' % (self.prefix, epoch))
        stray, self.uncommitted = [], []
        for name in sorted(names):
            stem, ext = os.path.splitext(name)
            if ext not in _DATA or _PARTIAL + '.' in name or name in named or name in exported:
                continue
            if stem in in_progress or any(stem.endswith('-%d-best' % e)
                                          for e in (newest, newest + 1)):
                self.uncommitted.append(name)  # the save a crash interrupted: redone
            else:
                stray.append(name)
        if refused or stray:
            problems = refused + (['%s (no manifest names it)' % ', '.join(stray)]
                                  if stray else [])
            raise BadInput('--save-dir %s: %s. These are not checkpoints this run can trust or '
                           'overwrite; move them away, restore the manifests, or choose another '
                           '--save-dir' % (self.save_dir, '; '.join(problems)))
        manifests.sort(key=lambda info: (-info['epoch'], info['kind'] != 'epoch'))
        if manifests:
            self.committed_epoch = manifests[0]['epoch']
        return manifests

    def verify(self, info):
        """None if the files of manifest ``info`` are intact, else the reason they are not."""
        for entry in info['files'].values():
            path = self._path(entry['name'])
            if not os.path.isfile(path):
                return '%s is missing' % entry['name']
            size = os.path.getsize(path)
            if size != entry['size']:
                return '%s has %d bytes, the manifest says %d' % (entry['name'], size,
                                                                  entry['size'])
            if _sha256(path) != entry['sha256']:
                return '%s does not match its SHA-256 in the manifest' % entry['name']
        return None

    def find_intact(self, kind=None):
        """(manifest of the newest checkpoint (of ``kind``, if given) whose files verify, the
        (stem, reason) of each newer one that does not); (None, []) when there is none at all.
        BadInput when checkpoints exist but none is intact (nothing is overwritten then)."""
        skipped = []
        for info in self.scan():
            if kind is not None and info['kind'] != kind:
                continue
            reason = self.verify(info)
            if reason is None:
                return info, skipped
            skipped.append((info['stem'], reason))
        if skipped:
            raise BadInput('--save-dir %s: no intact checkpoint (%s); the files are left as they '
                           'are' % (self.save_dir, '; '.join('%s: %s' % s for s in skipped)))
        return None, []

    def newest_intact(self, log=None, kind=None):
        """:meth:`find_intact`'s manifest; each skipped checkpoint is logged with the reason."""
        info, skipped = self.find_intact(kind)
        if log is not None:
            log_skipped(log, skipped)
        return info

    # --- writing ----------------------------------------------------------------------------

    def save_epoch(self, epoch, net, trainer, info, periodic, best):
        """Commit the checkpoint of a finished epoch, then the new best (``best``), then remove
        what is no longer kept: the previous epoch's checkpoint unless it was periodic, and
        earlier bests. WriteFailed (one line) if the disk is full or the directory unwritable;
        the earlier checkpoints stay intact and no partial file is left."""
        try:
            stem = '%s-%d' % (self.prefix, epoch)
            manifest = self._commit_epoch(stem, net, trainer, dict(info, epoch=epoch,
                                                                   periodic=bool(periodic)))
            self.committed_epoch = epoch
            if best:
                best_stem = self.best_stem(info['best_score'], epoch)
                self._commit_copy(manifest, best_stem)
            self._remove_unkept(epoch, self.best_stem(info['best_score'], info['best_epoch']))
        except (OSError, mx.base.MXNetError) as err:
            raise _write_failure(err, 'the checkpoint of epoch %d' % epoch, self.save_dir,
                                 self.committed_epoch) from None

    def _commit_epoch(self, stem, net, trainer, info):
        files = {}
        settle_weights()  # no forward pass still reordering a weight in place
        # MXNet's writer ignores a failure of its last flush: read the parameters back
        for key, ext, write, check in (('params', '.params', net.save_parameters, mx.nd.load),
                                       ('states', '.states', trainer.save_states, None)):
            path = self._path(stem + ext)
            write_durably(path, write, check)
            files[key] = _file_entry(path)
        fsync(self.save_dir)
        manifest = dict(info, format=FORMAT, stem=stem, kind='epoch', files=files,
                        numpy_rng=_rng_state())
        atomic_write_text(self._path(stem + '.json'), _dumps(manifest))
        return manifest

    def _commit_copy(self, manifest, stem):
        """The best checkpoint: hard links to the epoch's files (a copy where links fail) under
        the official name, committed by its own manifest."""
        files = {}
        for key, entry in manifest['files'].items():
            src = self._path(entry['name'])
            dst = self._path(stem + os.path.splitext(entry['name'])[1])
            write_durably(dst, lambda tmp, src=src: _link_or_copy(src, tmp))
            files[key] = dict(entry, name=os.path.basename(dst))
        fsync(self.save_dir)
        atomic_write_text(self._path(stem + '.json'),
                          _dumps(dict(manifest, stem=stem, kind='best', files=files)))

    def _remove_unkept(self, epoch, best_stem):
        """Remove the checkpoints that the commit of ``epoch`` made redundant: per-epoch ones
        before it that are not periodic, and the bests other than ``best_stem``."""
        for info in self.scan():
            redundant = (info['kind'] == 'epoch' and info['epoch'] < epoch
                         and not info.get('periodic')) or \
                        (info['kind'] == 'best' and info['stem'] != best_stem)
            if redundant:
                for entry in info['files'].values():  # data first: no stray files on a kill
                    _remove(self._path(entry['name']))
                _remove(self._path(info['stem'] + '.json'))

    def clean(self):
        """Remove what a killed save left: partial files and the uncommitted files that
        :meth:`scan` found (they are redone)."""
        remove_partials(self.save_dir)
        for name in self.uncommitted:
            _remove(self._path(name))
        self.uncommitted = []

    def roll_forward(self, info):
        """Finish the save that a crash interrupted after the commit of ``info`` (the checkpoint
        a run resumes from): the best checkpoint of that epoch, then the removal of what it made
        redundant; the directory then holds what an uninterrupted run leaves."""
        try:
            best = self.best_stem(info['best_score'], info['best_epoch'])
            if info['best_epoch'] == info['epoch'] and not any(
                    m['stem'] == best and self.verify(m) is None for m in self.scan()):
                self._commit_copy(info, best)
            self._remove_unkept(info['epoch'], best)
        except OSError as err:
            raise _write_failure(err, 'the best checkpoint of epoch %d' % info['epoch'],
                                 self.save_dir, info['epoch']) from None

    # --- loading ----------------------------------------------------------------------------

    def restore(self, info, net, trainer, ctx):
        """Load the parameters and trainer states of manifest ``info`` (verified by
        :meth:`newest_intact`); BadInput naming the file if MXNet cannot read it."""
        for key in ('params', 'states'):
            path = self.path_of(info, key)
            try:
                if key == 'params':
                    net.load_parameters(path, ctx=ctx)
                else:
                    trainer.load_states(path)
            except (AssertionError, ValueError, OSError, EOFError, mx.base.MXNetError) as err:
                raise BadInput('--resume: cannot load %s: %s' % (path, error_reason(err))) \
                    from None
        state = info.get('numpy_rng')
        if state:
            np.random.set_state((state[0], np.array(state[1], dtype=np.uint32), *state[2:]))

    def path_of(self, info, key='params'):
        return self._path(info['files'][key]['name'])


def log_skipped(log, skipped):
    """Say in the log which newer checkpoints were not intact, and why."""
    for stem, why in skipped:
        log.warning('skipped checkpoint %s: %s', stem, why)


def _read_manifest(path):
    """(manifest, None) if ``path`` is a complete manifest of this format, else (None, what is
    wrong with it)."""
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None, 'not readable JSON'
    if not isinstance(info, dict) or info.get('format') != FORMAT:
        return None, ('not a checkpoint manifest of format %s (edited, or another version)'
                      % FORMAT)
    try:
        stem, files = info['stem'], info['files']
        ok = (os.path.basename(path) == stem + '.json' and isinstance(info['epoch'], int)
              and info['kind'] in ('epoch', 'best') and isinstance(info['record'], dict)
              and set(files) == {'params', 'states'}
              and all(isinstance(e['name'], str) and os.path.basename(e['name']) == e['name']
                      and isinstance(e['size'], int) and len(e['sha256']) == 64
                      for e in files.values()))
    except (KeyError, TypeError):
        ok = False
    return (info, None) if ok else (None, 'an edited or incomplete checkpoint manifest')


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise
        shutil.copyfile(src, dst)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _dumps(info):
    return json.dumps(info, indent=1, sort_keys=True)


def _rng_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def remove_partials(save_dir):
    """Remove what a killed process left half-written (``*.partial.*`` files and export
    directories); no manifest ever names them."""
    for path in glob.glob(os.path.join(glob.escape(save_dir), '*' + _PARTIAL + '.*')):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            _remove(path)
