"""The flags both training scripts add to the official ones, and the checks of the flags both
have; a bad value raises BadInput naming the flag before anything is written."""
import os

from ..errors import BadInput
from ..export import require_onnx

__all__ = ['add_run_flags', 'check_run_flags']


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
