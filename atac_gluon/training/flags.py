"""The flags both training scripts have: the official ones they share (declared once, with each
script's defaults), the ones we add, and their checks; a bad value raises BadInput naming the
flag before anything is written."""
import argparse
import os

from ..activations import ACT_TYPES
from ..checks import check_file_in_dir, check_numbers, check_output_dir, flag_name, int_range
from ..deployment import require_onnx
from ..errors import BadInput
from ..models.params import read_parameters

__all__ = ['add_official_flags', 'add_run_flags', 'check_run_flags', 'decay_epochs',
           'ACT_DEFAULTS']

#: each script's defaults of the act flags (official: --r and --act-layers in both scripts,
#: --useReLU / --useGlobal in train_cifar.py; train_imagenet.py's follow its model). The other
#: command lines rebuild a converted GluonCV network (``--model NAME``) with them too.
ACT_DEFAULTS = {
    'cifar': dict(act_type='ChaATAC', r=2, act_layers=4, useReLU=False, useGlobal=False),
    'imagenet': dict(act_type='ChaATAC', r=4, act_layers=2, useReLU=True, useGlobal=False),
}


def add_official_flags(parser, script, act_layers_help, num_epochs, summary_help,
                       lr_decay_period_help):
    """The official flags both scripts have (and --useReLU / --useGlobal), with the defaults of
    ``script`` ('cifar' or 'imagenet') and help where the two official scripts differ."""
    defaults = ACT_DEFAULTS[script]
    parser.add_argument('--act-type', type=str, default=defaults['act_type'],
                        help=', '.join(ACT_TYPES))
    parser.add_argument('--r', type=int, default=defaults['r'],
                        help='ChaATAC channel reduction ratio')
    parser.add_argument('--act-layers', type=int, default=defaults['act_layers'],
                        help=act_layers_help)
    for flag, what in (('useReLU', 'inner ReLU'), ('useGlobal', 'global pooling')):
        parser.add_argument('--' + flag, action=argparse.BooleanOptionalAction,
                            default=defaults[flag], help='ChaATAC %s (default: %s)'
                            % (what, 'on' if defaults[flag] else 'off'))
    parser.add_argument('--summary', action='store_true', help=summary_help)
    parser.add_argument('--batch-size', type=int, default=32,
                        help='training batch size per device (CPU/GPU).')
    parser.add_argument('-j', '--num-data-workers', dest='num_workers', default=4, type=int,
                        help='number of preprocessing workers')
    parser.add_argument('--num-epochs', type=int, default=num_epochs,
                        help='number of training epochs.')
    parser.add_argument('--lr', type=float, default=0.1, help='learning rate. default is 0.1.')
    parser.add_argument('--momentum', type=float, default=0.9, help='momentum value for optimizer')
    parser.add_argument('--wd', type=float, default=0.0001, help='weight decay rate')
    parser.add_argument('--lr-decay', type=float, default=0.1, help='decay rate of learning rate')
    parser.add_argument('--lr-decay-period', type=int, default=0, help=lr_decay_period_help)
    parser.add_argument('--lr-decay-epoch', type=str, default='40,60',
                        help='epochs at which learning rate decays. default is 40,60.')
    parser.add_argument('--mode', type=str, default=None,
                        help='imperative (default) or hybrid (static graph)')
    parser.add_argument('--save-dir', type=str, default='params', help='directory of saved models')


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
    parser.add_argument('--fused-gates', action='store_true',
                        help="compute each local ChaATAC unit's sigmoid and product, and their "
                             'gradients, in one float32 operator of atac_gluon.ops (built with '
                             'g++ on first use): the same numbers to float rounding, faster on '
                             'the CPU (see the README); checkpoints and exports are unchanged')
    parser.add_argument('--kvstore', type=str, default='device',
                        help='MXNet kvstore type handed to the Trainer (device, local, '
                             'dist_sync, dist_device_sync, dist_async)')
    parser.add_argument('--cpu-threads', type=int, default=None,
                        help='OpenMP threads of the CPU kernels (default: all available cores; '
                             'set before mxnet is imported)')


_KVSTORES = ('local', 'device', 'nccl', 'dist_sync', 'dist_device_sync', 'dist_async',
             'dist_sync_device', 'horovod', 'byteps')


def check_run_flags(opt, act_layers_max, files=(), parameter_files=(), output_dirs=(),
                    log_file=None):
    """Check the flags both scripts have (official and added) and the script's own: every
    numeric flag by the shared table (``--act-layers`` from 0 to ``act_layers_max``, what the
    host supports), the existing ``files`` and ``parameter_files`` (readable MXNet parameters),
    the ``output_dirs`` and the ``log_file`` flag (a file in the first output dir) unless
    ``--summary``; BadInput names the first bad one. Changes and creates nothing."""
    check_numbers(opt, {'act_layers': int_range(0, act_layers_max)})
    if opt.mode not in (None, 'imperative', 'hybrid'):
        raise BadInput('--mode must be imperative or hybrid, got %r' % opt.mode)
    decay_epochs(opt)  # checked here, used by the schedules
    if opt.kvstore not in _KVSTORES:
        raise BadInput('--kvstore must be one of %s, got %r' % (', '.join(_KVSTORES), opt.kvstore))
    for flag in tuple(files) + tuple(parameter_files):
        path = getattr(opt, flag)
        if path and not os.path.isfile(path):
            raise BadInput('%s %s: no such file' % (flag_name(flag), path))
    for flag in parameter_files:
        path = getattr(opt, flag)
        if path:
            read_parameters(path, '%s %s' % (flag_name(flag), path))
    if not getattr(opt, 'summary', False):  # --summary writes nothing
        for flag in output_dirs:
            check_output_dir(getattr(opt, flag), flag_name(flag))
        if log_file:
            check_file_in_dir(getattr(opt, log_file), flag_name(log_file),
                              getattr(opt, output_dirs[0]))
    if opt.export:
        require_onnx('--export')  # before training, not after it


def decay_epochs(opt):
    """The epochs at which the rate decays: every ``--lr-decay-period`` epochs, else the
    ``--lr-decay-epoch`` list (non-negative integers)."""
    if opt.lr_decay_period > 0:
        return list(range(opt.lr_decay_period, opt.num_epochs, opt.lr_decay_period))
    try:
        epochs = [int(e) for e in opt.lr_decay_epoch.split(',') if e.strip()]
    except ValueError:
        epochs = [-1]
    if any(e < 0 for e in epochs):
        raise BadInput('--lr-decay-epoch must be comma-separated non-negative epochs such as '
                       '40,60, got %r' % opt.lr_decay_epoch)
    return epochs
