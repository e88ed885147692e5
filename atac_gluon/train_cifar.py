"""Train the paper's CIFAR ATAC ResNets (the official open-atac train_cifar.py, every flag kept).

    python train_cifar.py --gpus 0 --num-epochs 400 --mode hybrid -j 32 --batch-size 128 \
        --wd 0.0001 --lr 0.2 --lr-decay 0.1 --lr-decay-epoch 300,350 --dataset cifar100 \
        --model atac --act-type ChaATAC --useReLU --r 2 --blocks 3

Results go to --save-dir: metrics.jsonl, train.log, checkpoints (and --export graphs); the
history plot to --save-plot-dir. Exit codes: 0 done, 2 bad flag/file/data, 3 loss diverged,
4 a result could not be written, 130 interrupted (see the README).
"""
import sys

from .training.threads import configure_cpu_threads

if __name__ == '__main__':  # python -m: before mxnet is imported
    configure_cpu_threads(sys.argv[1:])

import argparse  # noqa: E402
import os  # noqa: E402

from .checks import NON_NEGATIVE_INT  # noqa: E402
from .conversion import zoo_names  # noqa: E402
from .data.pipelines import NORMALIZATIONS  # noqa: E402
from .errors import BadInput, run_main  # noqa: E402
from .models.cifar import MAX_ACT_LAYERS  # noqa: E402
from .training.flags import add_official_flags, add_run_flags, check_run_flags  # noqa: E402
from .training.run import run  # noqa: E402
from .training.spec import CIFAR_CLASSES, cifar_spec  # noqa: E402
from .training.tasks import CifarTask  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a model for image classification.')
    # the official flags, names, meanings and defaults; --model/--blocks/--act-type/--r had
    # placeholder defaults that built no model ('xxx', 0, -1): they default to the README's run
    parser.add_argument('--model', type=str, default='atac',
                        help="atac (the paper's host) or a GluonCV CIFAR model name (e.g. "
                             'cifar_resnet56_v1) converted with the act flags')
    parser.add_argument('--blocks', type=int, default=3, help='[blocks] * 3 (--model atac)')
    add_official_flags(parser, 'cifar', num_epochs=1,
                       act_layers_help='stages with --act-type, counted with the final '
                                       'activation: 0 to %d (default 4: all)' % MAX_ACT_LAYERS,
                       summary_help='print FLOPs and parameter numbers and exit',
                       lr_decay_period_help='period in epochs of learning rate decays; 0 uses '
                                            '--lr-decay-epoch')
    parser.add_argument('--dataset', type=str, default='cifar10',
                        help='cifar10, cifar100, digits (scikit-learn digits, no download) or '
                             'fashion-mnist (IDX files: --data-dir, default Debian\'s '
                             '/usr/share/datasets/fashion-mnist)')
    parser.add_argument('--gpus', type=str, default='0',
                        help='GPU ids such as 1,3; without GPUs as many CPU contexts')
    parser.add_argument('--drop-rate', type=float, default=0.0,
                        help='dropout rate for wide resnet (unused by the ATAC model)')
    parser.add_argument('--save-period', type=int, default=10,
                        help='period in epoch of model saving (0: only best and last).')
    parser.add_argument('--resume-from', type=str, help='initialise from this parameters file')
    parser.add_argument('--save-plot-dir', type=str, default='.',
                        help='the path to save the history plot')
    # new flags
    parser.add_argument('--data-dir', type=str, default=None,
                        help='CIFAR files (binary or python release, folders or .tar.gz; '
                             "default: MXNet's dataset directory) or Fashion-MNIST's IDX files "
                             '(gzipped or not; default /usr/share/datasets/fashion-mnist)')
    parser.add_argument('--train-subset', type=int, default=0, metavar='N',
                        help='train on N images of the training split, the first of each class '
                             'in turn (default 0: all)')
    parser.add_argument('--val-subset', type=int, default=0, metavar='N',
                        help='validate on N images of the validation split, chosen alike '
                             '(default 0: all)')
    parser.add_argument('--fine-label', action='store_true',
                        help='CIFAR-100: train on the 100 fine labels (default: the 20 coarse '
                             'labels, as the official script did)')
    parser.add_argument('--input-bn-from-data', action=argparse.BooleanOptionalAction,
                        default=False,
                        help="set the input BatchNorm's running mean/var to the training data's "
                             'before training (default: off, as the official code, whose input '
                             'BatchNorm never updates them in MXNet: identity at evaluation, '
                             'batch statistics in training)')
    parser.add_argument('--normalization', default='dataset', metavar='CONSTANTS',
                        help='fashion-mnist: normalise with its own training-set constants '
                             '(dataset, the default) or with CIFAR-10\'s (cifar: what the '
                             'official script does to any data; README, "The input BatchNorm")')
    add_run_flags(parser)
    opt = parser.parse_args(argv)
    check_flags(opt)
    return opt


def check_flags(opt):
    check_run_flags(opt, MAX_ACT_LAYERS, parameter_files=('resume_from',),
                    output_dirs=('save_dir', 'save_plot_dir'))
    if opt.model.lower() == 'atac':  # case-insensitive, as model names everywhere
        opt.model = 'atac'
    elif opt.model.lower() in zoo_names('cifar'):
        opt.model = opt.model.lower()
        if opt.input_bn_from_data:
            raise BadInput('--input-bn-from-data sets the input BatchNorm of --model atac only')
    else:
        raise BadInput("--model must be 'atac' or a GluonCV CIFAR model name (%s), got %r"
                       % (', '.join(zoo_names('cifar')), opt.model))
    if opt.dataset not in CIFAR_CLASSES:
        raise BadInput('--dataset must be one of %s, got %r'
                       % (', '.join(CIFAR_CLASSES), opt.dataset))
    if opt.normalization not in NORMALIZATIONS:
        raise BadInput('--normalization must be one of %s, got %r'
                       % (', '.join(NORMALIZATIONS), opt.normalization))
    if opt.normalization != 'dataset' and opt.dataset != 'fashion-mnist':
        raise BadInput('--normalization %s is for --dataset fashion-mnist (CIFAR is normalised '
                       'with its own constants, digits come standardised)' % opt.normalization)
    for flag in ('train_subset', 'val_subset'):
        NON_NEGATIVE_INT.check('--' + flag.replace('_', '-'), getattr(opt, flag))
    if opt.data_dir and not os.path.exists(opt.data_dir):
        raise BadInput('--data-dir %s: no such directory or archive' % opt.data_dir)


def main(argv=None):
    opt = parse_args(argv)
    run(cifar_spec(opt), CifarTask.from_flags(opt))


def entry():
    """``python -m atac_gluon.train_cifar``."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
