"""Start or resume a run in its save directory: flags both scripts add, the log file, the
checkpoints and metrics of the directory, and ``--resume``."""
import os

import mxnet as mx

from ..export import export_all, require_onnx
from .checkpoint import Checkpoints
from .metrics import MetricsLog
from .runtime import BadInput, setup_logging

__all__ = ['add_run_flags', 'check_run_flags', 'Session']


def add_run_flags(parser):
    """The flags both scripts add to the official ones."""
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of initialisation, shuffling and augmentation (each epoch is '
                             'seeded from it, so --resume reproduces an uninterrupted run)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the newest checkpoint in --save-dir (parameters, '
                             'trainer states, epoch); starts afresh if there is none')
    parser.add_argument('--export', action='store_true',
                        help='at the end, export the best (else last) network to --save-dir as '
                             '<model>-symbol.json + <model>-0000.params and <model>.onnx')
    parser.add_argument('--kvstore', type=str, default='device',
                        help='MXNet kvstore type handed to the Trainer (device, local, '
                             'dist_sync, dist_device_sync, dist_async)')
    parser.add_argument('--cpu-threads', type=int, default=None,
                        help='OpenMP threads of the CPU kernels (default: all available cores; '
                             'set before mxnet is imported)')


_KVSTORES = ('local', 'device', 'nccl', 'dist_sync', 'dist_device_sync', 'dist_async',
             'dist_sync_device', 'horovod', 'byteps')


def _flag(dest):
    """The command-line spelling of an option's destination."""
    return '-j/--num-data-workers' if dest == 'num_workers' else '--' + dest.replace('_', '-')


def check_run_flags(opt, positive=(), non_negative=(), files=()):
    """Check the flags both scripts have (official and added) and the script's own ``positive``,
    ``non_negative`` and existing-``files`` flags; BadInput names the first bad one. Sets
    ``opt.lr_decay_epochs`` from ``--lr-decay-period`` / ``--lr-decay-epoch``."""
    if opt.mode not in (None, 'imperative', 'hybrid'):
        raise BadInput('--mode must be imperative or hybrid, got %r' % opt.mode)
    for flag in ('batch_size', 'num_epochs', 'lr') + tuple(positive):
        value = getattr(opt, flag)
        if value is not None and value <= 0:
            raise BadInput('%s must be positive, got %s' % (_flag(flag), value))
    for flag in ('num_workers', 'lr_decay_period') + tuple(non_negative):
        if getattr(opt, flag) < 0:
            raise BadInput('%s must not be negative, got %s' % (_flag(flag), getattr(opt, flag)))
    for flag in files:
        path = getattr(opt, flag)
        if path and not os.path.isfile(path):
            raise BadInput('%s %s: no such file' % (_flag(flag), path))
    if opt.lr_decay_period > 0:
        opt.lr_decay_epochs = list(range(opt.lr_decay_period, opt.num_epochs,
                                         opt.lr_decay_period))
    else:
        try:
            opt.lr_decay_epochs = [int(e) for e in opt.lr_decay_epoch.split(',') if e.strip()]
        except ValueError:
            raise BadInput('--lr-decay-epoch must be comma-separated epochs such as 40,60, got '
                           '%r' % opt.lr_decay_epoch)
    if opt.kvstore not in _KVSTORES:
        raise BadInput('--kvstore must be one of %s, got %r' % (', '.join(_KVSTORES), opt.kvstore))
    if opt.cpu_threads is not None and opt.cpu_threads <= 0:
        raise BadInput('--cpu-threads must be positive, got %d' % opt.cpu_threads)
    if opt.export:
        require_onnx('--export')  # before training, not after it


class Session(object):
    """A run's save directory: log file, checkpoints, metrics, resume.

    Parameters
    ----------
    save_dir : str
        Created if missing (after all inputs were checked, so bad input leaves nothing behind).
    prefix : str
        Stem of ``last``/periodic checkpoints.
    best_stem : callable
        ``best_stem(score, epoch)`` -> official-style name of the best checkpoint.
    identity : dict
        The flags that define the model and data; ``--resume`` refuses a directory whose
        checkpoint was made with other values.
    resume : bool
        Whether the run continues the directory's checkpoints; without it a directory that holds
        checkpoints is refused (its runs would mix) before anything is written.
    """

    def __init__(self, save_dir, prefix, best_stem, identity, resume, log_name='train.log'):
        if os.path.exists(save_dir) and not os.path.isdir(save_dir):
            raise BadInput('--save-dir %s exists and is not a directory' % save_dir)
        self.save_dir, self.identity = save_dir, identity
        self.checkpoints = Checkpoints(save_dir, prefix, best_stem)
        self.metrics = MetricsLog(os.path.join(save_dir, 'metrics.jsonl'))
        if not resume and os.path.isdir(save_dir) and self.checkpoints.find():
            raise BadInput('--save-dir %s holds checkpoints of an earlier run: pass --resume to '
                           'continue it, or choose another --save-dir' % save_dir)
        os.makedirs(save_dir, exist_ok=True)
        self.log = setup_logging(os.path.join(save_dir, log_name))
        if not resume and os.path.exists(self.metrics.path):
            # metrics of a run that died before its first checkpoint
            os.remove(self.metrics.path)

    def resume(self, net, trainer, ctx):
        """Restore the newest checkpoint; returns (start_epoch, (best_score, best_epoch))."""
        info = self.checkpoints.latest()
        if info is None:
            self.log.info('--resume: no checkpoint in %s, starting at epoch 0', self.save_dir)
            return 0, (None, None)
        saved = info.get('flags', {})
        changed = sorted(k for k, v in self.identity.items() if k in saved and saved[k] != v)
        if changed:
            raise BadInput('--resume: the checkpoint in %s was made with other %s (%s)' % (
                self.save_dir, ', '.join('--' + k.replace('_', '-') for k in changed),
                ', '.join('%s=%r' % (k, saved[k]) for k in changed)))
        self.checkpoints.restore(info, net, trainer, ctx)
        self.metrics.resume_at(info['record'])
        self.log.info('resumed from %s (epoch %d done, best %.4f at epoch %s)', info['stem'],
                      info['epoch'], info['best_score'], info.get('best_epoch'))
        return info['epoch'] + 1, (info['best_score'], info.get('best_epoch'))

    def export(self, net, name, input_shape):
        """Export ``net`` (a fresh, uninitialised copy of the trained model) with the parameters
        of the best checkpoint, else the last, to ``<save_dir>/<name>-symbol.json`` and
        ``<name>-0000.params``; returns the paths."""
        info = self.checkpoints.best() or self.checkpoints.latest()
        if info is None:
            raise BadInput('--export: no checkpoint in %s to export' % self.save_dir)
        # float32 for deployment, whatever the training dtype (float16 on GPUs)
        net.load_parameters(self.checkpoints.params_path(info), ctx=mx.cpu(), cast_dtype=True,
                            dtype_source='current')
        self.log.info('exporting %s (epoch %d)', info['stem'], info['epoch'])
        return export_all(net, os.path.join(self.save_dir, name), input_shape, onnx=True)
