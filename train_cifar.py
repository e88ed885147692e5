#!/usr/bin/env python
"""Train the paper's CIFAR ATAC ResNets (the official open-atac train_cifar.py, every flag kept).

    python train_cifar.py --gpus 0 --num-epochs 400 --mode hybrid -j 32 --batch-size 128 \
        --wd 0.0001 --lr 0.2 --lr-decay 0.1 --lr-decay-epoch 300,350 --dataset cifar100 \
        --model atac --act-type ChaATAC --useReLU --r 2 --blocks 3

Results go to --save-dir: metrics.jsonl, train.log, checkpoints (and --export graphs); the
history plot to --save-plot-dir. Exit codes: 0 done, 2 bad flag/file/data, 3 loss diverged.
"""
import sys

from atac_gluon.training.threads import configure_cpu_threads

configure_cpu_threads(sys.argv[1:])  # before mxnet is imported

import argparse  # noqa: E402
import os  # noqa: E402

import mxnet as mx  # noqa: E402
from mxnet import gluon  # noqa: E402

from atac_gluon import ACT_TYPES, ResNet20V2ATAC, summary  # noqa: E402
from atac_gluon.data.pipelines import cifar_batches  # noqa: E402
from atac_gluon.models.cifar import MAX_ACT_LAYERS  # noqa: E402
from atac_gluon.training.loop import evaluate, fit  # noqa: E402
from atac_gluon.training.metrics import plot_history  # noqa: E402
from atac_gluon.errors import BadInput, run_main  # noqa: E402
from atac_gluon.training.runtime import (contexts_from_gpus, load_parameters_checked,  # noqa: E402
                                         seed_epoch, setup_logging)
from atac_gluon.training.schedules import step_schedule  # noqa: E402
from atac_gluon.training.flags import add_run_flags, check_run_flags  # noqa: E402
from atac_gluon.training.session import Session  # noqa: E402

DATASETS = {'cifar10': 10, 'cifar100': 100, 'digits': 10}


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a model for image classification.')
    # the official flags, names, meanings and defaults; --model/--blocks/--act-type/--r had
    # placeholder defaults that built no model ('xxx', 0, -1): they default to the README's run
    parser.add_argument('--model', type=str, default='atac', help='atac (the only model)')
    parser.add_argument('--blocks', type=int, default=3, help='[blocks] * 3')
    parser.add_argument('--act-type', type=str, default='ChaATAC', help=', '.join(ACT_TYPES))
    parser.add_argument('--r', type=int, default=2, help='ChaATAC channel reduction ratio')
    parser.add_argument('--act-layers', type=int, default=4,
                        help='stages with --act-type, counted with the final activation: 0 to '
                             '%d (default 4: all)' % MAX_ACT_LAYERS)
    parser.add_argument('--useGlobal', action=argparse.BooleanOptionalAction, default=False,
                        help='ChaATAC global pooling (default: off)')
    parser.add_argument('--useReLU', action=argparse.BooleanOptionalAction, default=False,
                        help='ChaATAC inner ReLU (default: off, as the official flag)')
    parser.add_argument('--summary', action='store_true', default=False,
                        help='print FLOPs and parameter numbers and exit')
    parser.add_argument('--dataset', type=str, default='cifar10',
                        help='cifar10, cifar100 or digits (scikit-learn digits, no download)')
    parser.add_argument('--batch-size', type=int, default=32,
                        help='training batch size per device (CPU/GPU).')
    parser.add_argument('--gpus', type=str, default='0',
                        help='GPU ids such as 1,3; without GPUs as many CPU contexts')
    parser.add_argument('-j', '--num-data-workers', dest='num_workers', default=4, type=int,
                        help='number of preprocessing workers')
    parser.add_argument('--num-epochs', type=int, default=1, help='number of training epochs.')
    parser.add_argument('--lr', type=float, default=0.1, help='learning rate. default is 0.1.')
    parser.add_argument('--momentum', type=float, default=0.9, help='momentum value for optimizer')
    parser.add_argument('--wd', type=float, default=0.0001, help='weight decay rate')
    parser.add_argument('--lr-decay', type=float, default=0.1, help='decay rate of learning rate')
    parser.add_argument('--lr-decay-period', type=int, default=0,
                        help='period in epochs of learning rate decays; 0 uses --lr-decay-epoch')
    parser.add_argument('--lr-decay-epoch', type=str, default='40,60',
                        help='epochs at which learning rate decays. default is 40,60.')
    parser.add_argument('--drop-rate', type=float, default=0.0,
                        help='dropout rate for wide resnet (unused by the ATAC model)')
    parser.add_argument('--mode', type=str, default=None,
                        help='imperative (default) or hybrid (static graph)')
    parser.add_argument('--save-period', type=int, default=10,
                        help='period in epoch of model saving (0: only best and last).')
    parser.add_argument('--save-dir', type=str, default='params', help='directory of saved models')
    parser.add_argument('--resume-from', type=str, help='initialise from this parameters file')
    parser.add_argument('--save-plot-dir', type=str, default='.',
                        help='the path to save the history plot')
    # new flags
    parser.add_argument('--data-dir', type=str, default=None,
                        help='CIFAR files (binary or python release, folders or .tar.gz); '
                             "default: MXNet's dataset directory")
    parser.add_argument('--fine-label', action='store_true',
                        help='CIFAR-100: train on the 100 fine labels (default: the 20 coarse '
                             'labels, as the official script did)')
    add_run_flags(parser)
    opt = parser.parse_args(argv)
    check_flags(opt)
    return opt


def check_flags(opt):
    check_run_flags(opt, MAX_ACT_LAYERS, parameter_files=('resume_from',),
                    output_dirs=('save_dir', 'save_plot_dir'))
    if opt.model.lower() != 'atac':  # case-insensitive, as model names everywhere
        raise BadInput("--model must be 'atac', got %r" % opt.model)
    opt.model = 'atac'
    if opt.dataset not in DATASETS:
        raise BadInput('--dataset must be one of %s, got %r' % (', '.join(DATASETS), opt.dataset))
    if opt.data_dir and not os.path.exists(opt.data_dir):
        raise BadInput('--data-dir %s: no such directory or archive' % opt.data_dir)


def build_model(opt, classes):
    # the official script's fixed choices for everything the flags don't set
    return ResNet20V2ATAC(layers=[opt.blocks] * 3, channels=[16, 16, 32, 64], classes=classes,
                          act_type=opt.act_type, r=opt.r, skernel=3, dilation=1,
                          useReLU=opt.useReLU, useGlobal=opt.useGlobal,
                          act_layers=opt.act_layers, replace_act='relu', act_order='bac',
                          asBackbone=False)


def main(argv=None):
    opt = parse_args(argv)
    model_name = 'ResNet20_b_%d_%s' % (opt.blocks, opt.act_type)
    classes = DATASETS[opt.dataset]
    seed_epoch(opt.seed, -1)  # initialisation
    net = build_model(opt, classes)
    if opt.summary:
        net.initialize(mx.init.MSRAPrelu())
        summary(net, mx.nd.zeros((1, 3, 32, 32)))
        return
    log = setup_logging()
    ctx = contexts_from_gpus(opt.gpus, log)
    batch_size = opt.batch_size * len(ctx)
    train_data, val_data, label_set = cifar_batches(
        opt.dataset, opt.data_dir, batch_size, opt.fine_label, opt.seed, opt.num_workers, log)
    net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
    if opt.resume_from:
        load_parameters_checked(net, opt.resume_from, '--resume-from', ctx)
    # every input is checked: only now is anything written
    session = Session(opt.save_dir, '%s-%s' % (opt.dataset, model_name),
                      lambda acc, epoch: '%.4f-cifar-%s-%d-best' % (acc, model_name, epoch),
                      identity={k: getattr(opt, k) for k in (
                          'model', 'blocks', 'act_type', 'r', 'act_layers', 'useGlobal',
                          'useReLU', 'dataset', 'fine_label')},
                      resume=opt.resume)
    log = session.log
    log.info('%s, %d classes, labels: %s; model %s on %s', opt.dataset, classes, label_set,
             model_name, ctx)

    if opt.mode == 'hybrid':
        net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), 'nag', {
        'learning_rate': opt.lr, 'wd': opt.wd, 'momentum': opt.momentum}, kvstore=opt.kvstore)
    start_epoch, best = session.resume(net, trainer, ctx) if opt.resume else (0, (None, None))

    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    accuracy = mx.metric.Accuracy()

    def validate():
        acc = evaluate(net, val_data, ctx, [accuracy])[0].get()[1]
        return {'val_acc': acc}, acc

    plot_path = os.path.join(opt.save_plot_dir, '%s_history.png' % model_name)
    result = fit(net, trainer, train_data, ctx, lambda out, y, x: loss_fn(out, y), opt.num_epochs,
                 validate, session.checkpoints, session.metrics, log,
                 run_info={'dataset': opt.dataset, 'label_set': label_set,
                           'num_workers': opt.num_workers},
                 flags=vars(opt), seed=opt.seed, start_epoch=start_epoch, best=best,
                 lr_at_epoch=step_schedule(opt.lr, opt.lr_decay, opt.lr_decay_epochs),
                 save_period=opt.save_period,
                 plot=lambda records: plot_history(records, plot_path))
    log.info('best validation accuracy %.4f at epoch %s', result['best_score'],
             result['best_epoch'])
    if opt.export:
        exported = session.export(build_model(opt, classes), model_name, (1, 3, 32, 32))
        log.info('exported %s', ', '.join(exported))
    log.info('results in %s: metrics.jsonl, train.log, checkpoints; plot %s', opt.save_dir,
             plot_path)


if __name__ == '__main__':
    sys.exit(run_main(main))
