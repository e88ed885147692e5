#!/usr/bin/env python
"""Train ATAC-ResNet-50 on ImageNet (the official open-atac train_imagenet.py, every flag kept).

    python train_imagenet.py --mode hybrid --lr 0.075 --lr-mode cosine --num-epochs 160 \
        --batch-size 128 --num-gpus 2 -j 48 --warmup-epochs 5 --dtype float16 --use-rec \
        --last-gamma --no-wd --label-smoothing --save-dir params_resnet50_v1b_ChaATAC_2 \
        --logging-file resnet50_v1b_ChaATAC_2.log --r 2 --act-layers 2

Classes and the epoch length (which sets the learning-rate schedule) come from the data.
Results go to --save-dir: metrics.jsonl (top-1/top-5 validation error), the log file,
checkpoints (official <err>-imagenet-<model>-<epoch>-best naming). Exit codes: 0 done,
2 bad flag/file/data, 3 loss diverged.
"""
import sys

from atac_gluon.training.threads import configure_cpu_threads

configure_cpu_threads(sys.argv[1:])  # before mxnet is imported

import argparse  # noqa: E402
import os  # noqa: E402

import mxnet as mx  # noqa: E402
from mxnet import gluon  # noqa: E402

from atac_gluon import (ACT_TYPES, GroupNorm, ResNet50_v1bATAC,  # noqa: E402
                        load_shared_parameters, summary)
from atac_gluon.data import imagenet  # noqa: E402
from atac_gluon.models.imagenet import MAX_ACT_LAYERS  # noqa: E402
from atac_gluon.training.loop import evaluate, fit  # noqa: E402
from atac_gluon.training.metrics import plot_history  # noqa: E402
from atac_gluon.training.official import check_trainer_states, load_trainer_states  # noqa: E402
from atac_gluon.training.pretrained import build_teacher, pretrained_file  # noqa: E402
from atac_gluon.training.recipes import (batch_preparation, classification_loss,  # noqa: E402
                                         no_weight_decay_on_bn_and_bias)
from atac_gluon.errors import BadInput, run_main  # noqa: E402
from atac_gluon.training.runtime import (contexts_from_gpus,  # noqa: E402
                                         load_parameters_checked, seed_epoch, setup_logging)
from atac_gluon.training.schedules import warmup_schedule  # noqa: E402
from atac_gluon.training.flags import add_run_flags, check_run_flags  # noqa: E402
from atac_gluon.training.session import Session  # noqa: E402

LR_MODES = ('step', 'poly', 'cosine', 'linear', 'constant')
DTYPES = ('float32', 'float16')


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a model for image classification.')
    # the official flags, names, meanings and defaults
    parser.add_argument('--r', type=int, default=4, help='channel reduction ratio')
    parser.add_argument('--act-type', type=str, default='ChaATAC', help=', '.join(ACT_TYPES))
    parser.add_argument('--act-layers', type=int, default=2,
                        help='stages, counted from the last, with --act-type: 0 to %d'
                             % MAX_ACT_LAYERS)
    parser.add_argument('--data-dir', type=str, default='~/.mxnet/datasets/imagenet',
                        help='image folders <data-dir>/train/<class>/*.jpg and val/')
    parser.add_argument('--rec-train', type=str, default='~/.mxnet/datasets/imagenet/rec/train.rec',
                        help='the training data')
    parser.add_argument('--rec-train-idx', type=str,
                        default='~/.mxnet/datasets/imagenet/rec/train.idx',
                        help='the index of training data')
    parser.add_argument('--rec-val', type=str, default='~/.mxnet/datasets/imagenet/rec/val.rec',
                        help='the validation data')
    parser.add_argument('--rec-val-idx', type=str, default='~/.mxnet/datasets/imagenet/rec/val.idx',
                        help='the index of validation data')
    parser.add_argument('--use-rec', action='store_true',
                        help='use image record iter for data input. default is false.')
    parser.add_argument('--summary', action='store_true',
                        help='print FLOPs and parameter numbers and exit (no data needed)')
    parser.add_argument('--batch-size', type=int, default=32,
                        help='training batch size per device (CPU/GPU).')
    parser.add_argument('--dtype', type=str, default='float32',
                        help='data type for training: float32, or float16 (GPU only)')
    parser.add_argument('--num-gpus', type=int, default=0,
                        help='number of gpus to use (without GPUs: as many CPU contexts)')
    parser.add_argument('-j', '--num-data-workers', dest='num_workers', default=4, type=int,
                        help='number of preprocessing workers')
    parser.add_argument('--num-epochs', type=int, default=3, help='number of training epochs.')
    parser.add_argument('--lr', type=float, default=0.1, help='learning rate. default is 0.1.')
    parser.add_argument('--momentum', type=float, default=0.9, help='momentum value for optimizer')
    parser.add_argument('--wd', type=float, default=0.0001, help='weight decay rate')
    parser.add_argument('--lr-mode', type=str, default='step',
                        help='learning rate scheduler mode: step, poly, cosine (linear, constant)')
    parser.add_argument('--lr-decay', type=float, default=0.1, help='decay rate of learning rate')
    parser.add_argument('--lr-decay-period', type=int, default=0,
                        help='interval for periodic learning rate decays; 0 to disable.')
    parser.add_argument('--lr-decay-epoch', type=str, default='40,60',
                        help='epochs at which learning rate decays. default is 40,60.')
    parser.add_argument('--warmup-lr', type=float, default=0.0,
                        help='starting warmup learning rate. default is 0.0.')
    parser.add_argument('--warmup-epochs', type=int, default=0, help='number of warmup epochs.')
    parser.add_argument('--last-gamma', action='store_true',
                        help='whether to init gamma of the last BN layer in each bottleneck to 0.')
    parser.add_argument('--mode', type=str, default=None,
                        help='imperative (default) or hybrid (static graph)')
    parser.add_argument('--input-size', type=int, default=224, help='size of the input image')
    parser.add_argument('--crop-ratio', type=float, default=0.875,
                        help='Crop ratio during validation. default is 0.875')
    parser.add_argument('--use-pretrained', action='store_true',
                        help="initialise the layers shared with GluonCV's resnet50_v1b from its "
                             'pretrained weights (download, or --pretrained-params)')
    parser.add_argument('--use_se', action='store_true', help='(resnext only; unused here)')
    parser.add_argument('--mixup', action='store_true', help='train with mix-up')
    parser.add_argument('--mixup-alpha', type=float, default=0.2,
                        help='beta distribution parameter for mixup sampling, default is 0.2.')
    parser.add_argument('--mixup-off-epoch', type=int, default=0,
                        help='how many last epochs to train without mixup, default is 0.')
    parser.add_argument('--label-smoothing', action='store_true', help='use label smoothing')
    parser.add_argument('--no-wd', action='store_true',
                        help='no weight decay on bias, and beta/gamma of batchnorm layers.')
    parser.add_argument('--teacher', type=str, default=None,
                        help='teacher model for distillation training (GluonCV or atac_gluon '
                             'model name; pretrained download, or --teacher-params)')
    parser.add_argument('--temperature', type=float, default=20,
                        help='temperature parameter for distillation teacher model')
    parser.add_argument('--hard-weight', type=float, default=0.5,
                        help='weight for the loss of one-hot label for distillation training')
    parser.add_argument('--batch-norm', action='store_true', help='(vgg only; unused here)')
    parser.add_argument('--save-frequency', type=int, default=10,
                        help='frequency of model saving (0: only best and last).')
    parser.add_argument('--save-dir', type=str, default='params', help='directory of saved models')
    parser.add_argument('--resume-epoch', type=int, default=0,
                        help='epoch to resume training from.')
    parser.add_argument('--resume-params', type=str, default='',
                        help='path of parameters to load from.')
    parser.add_argument('--resume-states', type=str, default='',
                        help='path of trainer state to load from.')
    parser.add_argument('--log-interval', type=int, default=50,
                        help='Number of batches to wait before logging.')
    parser.add_argument('--logging-file', type=str, default='train_imagenet.log',
                        help='name of training log file (in --save-dir)')
    parser.add_argument('--use-gn', action='store_true', help='whether to use group norm.')
    # new flags
    parser.add_argument('--classes', type=int, default=None,
                        help='number of classes (default: from the data)')
    parser.add_argument('--pretrained-params', type=str, default=None,
                        help='local GluonCV resnet50_v1b parameters for --use-pretrained')
    parser.add_argument('--teacher-params', type=str, default=None,
                        help='local parameters of the --teacher model')
    add_run_flags(parser)
    opt = parser.parse_args(argv)
    check_flags(opt)
    return opt


def check_flags(opt):
    check_run_flags(opt, MAX_ACT_LAYERS, files=('resume_states',),
                    parameter_files=('resume_params', 'pretrained_params', 'teacher_params'),
                    output_dirs=('save_dir',), log_file='logging_file')
    if opt.lr_mode not in LR_MODES:
        raise BadInput('--lr-mode must be one of %s, got %r' % (', '.join(LR_MODES), opt.lr_mode))
    if opt.dtype not in DTYPES:
        raise BadInput('--dtype must be one of %s, got %r' % (', '.join(DTYPES), opt.dtype))
    for flag in ('warmup_epochs', 'resume_epoch'):
        if getattr(opt, flag) and getattr(opt, flag) >= opt.num_epochs:
            raise BadInput('--%s (%d) must be smaller than --num-epochs (%d)'
                           % (flag.replace('_', '-'), getattr(opt, flag), opt.num_epochs))
    if opt.resume and (opt.resume_epoch or opt.resume_params or opt.resume_states):
        raise BadInput('--resume continues from --save-dir; it cannot be combined with '
                       '--resume-epoch/--resume-params/--resume-states')
    if opt.teacher_params and not opt.teacher:
        raise BadInput('--teacher-params needs --teacher NAME (the architecture)')
    if opt.teacher:
        opt.teacher = opt.teacher.lower()  # model names are case-insensitive (GluonCV's too)


def build_model(opt, classes):
    norm = {'norm_layer': GroupNorm} if opt.use_gn else {}
    return ResNet50_v1bATAC(act_type=opt.act_type, r=opt.r, act_layers=opt.act_layers,
                            layers=[3, 4, 6, 3], classes=classes, last_gamma=opt.last_gamma,
                            **norm)


def number_of_classes(flag, found, source):
    """The model's classes: ``--classes`` if given, else the data's; BadInput when the data has
    fewer than 2 or more labels than ``--classes`` allows."""
    if found < 2:
        raise BadInput('%s: %d class found; classification needs at least 2' % (source, found))
    if flag is not None and flag < found:
        raise BadInput('--classes %d is smaller than the %d classes (labels 0..%d) of %s'
                       % (flag, found, found - 1, source))
    return flag or found


def load_data(opt, batch_size, log):
    """(train batches, validation batches, classes) from RecordIO or the image folders."""
    if opt.use_rec:
        # the headers are read in full (seconds for ImageNet) to count the classes and to catch
        # a bad index, which would abort the process inside ImageRecordIter's C++ threads
        samples, classes = imagenet.rec_stats(opt.rec_train, opt.rec_train_idx)
        _, val_classes = imagenet.rec_stats(opt.rec_val, opt.rec_val_idx)
        classes = number_of_classes(opt.classes, max(classes, val_classes), opt.rec_train)
        train, val = imagenet.rec_iterators(
            opt.rec_train, opt.rec_train_idx, opt.rec_val, opt.rec_val_idx, batch_size,
            opt.num_workers, opt.input_size, opt.crop_ratio, opt.seed)
    else:
        samples, classes, _ = imagenet.folder_stats(
            os.path.join(os.path.expanduser(opt.data_dir), 'train'))
        classes = number_of_classes(opt.classes, classes, opt.data_dir)
        train, val = imagenet.folder_iterators(opt.data_dir, batch_size, opt.num_workers,
                                               opt.input_size, opt.crop_ratio)
    log.info('%s: %d training samples, %d classes, %d batches of %d per epoch',
             'RecordIO' if opt.use_rec else opt.data_dir, samples, classes, len(train),
             batch_size)
    return train, val, classes


def build_networks(opt, classes, ctx):
    """The initialized model (pretrained layers, --resume-params) and the distillation teacher;
    returns (net, (pretrained path, load report) or None, teacher or None)."""
    net = build_model(opt, classes)
    net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
    pretrained = None
    if opt.use_pretrained or opt.pretrained_params:
        path = opt.pretrained_params or pretrained_file(
            'resnet50_v1b_gn' if opt.use_gn else 'resnet50_v1b', '--use-pretrained')
        flag = '--pretrained-params' if opt.pretrained_params else '--use-pretrained'
        pretrained = (path, load_shared_parameters(net, path, '%s %s' % (flag, path)))
    if opt.resume_params:  # float16 files (the official release) too: cast on loading
        load_parameters_checked(net, opt.resume_params, '--resume-params', ctx, cast_dtype=True)
    if opt.resume_states:  # checked before anything is written, loaded into the trainer later
        check_trainer_states(opt.resume_states, net.collect_params(), 'nag', '--resume-states')
    teacher = None
    if opt.teacher and opt.hard_weight < 1.0:  # the official condition
        teacher = build_teacher(opt.teacher, classes, opt.teacher_params, ctx)
    return net, pretrained, teacher


def main(argv=None):
    opt = parse_args(argv)
    model_name = 'ResNet50_v1b_' + opt.act_type
    seed_epoch(opt.seed, -1)  # initialisation
    if opt.summary:
        net = build_model(opt, opt.classes or 1000)
        net.initialize(mx.init.MSRAPrelu())
        summary(net, mx.nd.zeros((1, 3, opt.input_size, opt.input_size)))
        return
    log = setup_logging()
    ctx = contexts_from_gpus(','.join(str(i) for i in range(opt.num_gpus)), log)
    if opt.dtype != 'float32' and all(c.device_type == 'cpu' for c in ctx):
        raise BadInput("--dtype %s: MXNet's CPU kernels do not train in %s; use GPUs "
                       '(--num-gpus) or --dtype float32' % (opt.dtype, opt.dtype))
    batch_size = opt.batch_size * len(ctx)
    train_data, val_data, classes = load_data(opt, batch_size, log)
    lr_at = warmup_schedule(opt.lr_mode, opt.lr, opt.num_epochs, len(train_data),
                            opt.warmup_epochs, opt.warmup_lr, opt.lr_decay, opt.lr_decay_epochs)
    net, pretrained, teacher = build_networks(opt, classes, ctx)
    # every input is checked: only now is anything written
    session = Session(opt.save_dir, 'imagenet-%s' % model_name,
                      lambda acc, epoch: '%.4f-imagenet-%s-%d-best' % (1 - acc, model_name, epoch),
                      identity={k: getattr(opt, k) for k in (
                          'act_type', 'r', 'act_layers', 'use_gn', 'dtype', 'use_rec')},
                      resume=opt.resume, log_name=opt.logging_file)
    log = session.log
    log.info('model %s, %d classes, on %s', model_name, classes, ctx)
    if pretrained:
        path, report = pretrained
        log.info('initialised %d parameters from %s (%d of another shape kept, %d not in it)',
                 len(report['loaded']), path, len(report['skipped']), len(report['missing']))
    if teacher is not None:
        log.info('distillation from %s (temperature %g, hard weight %g)', opt.teacher,
                 opt.temperature, opt.hard_weight)
    net.cast(opt.dtype)
    if teacher is not None:
        teacher.cast(opt.dtype)
    if opt.no_wd:
        no_weight_decay_on_bn_and_bias(net)
    if opt.mode == 'hybrid':
        net.hybridize(static_alloc=True, static_shape=True)
        if teacher is not None:
            teacher.hybridize(static_alloc=True, static_shape=True)
    optimizer_params = {'learning_rate': opt.lr, 'wd': opt.wd, 'momentum': opt.momentum}
    if opt.dtype != 'float32':
        optimizer_params['multi_precision'] = True
    trainer = gluon.Trainer(net.collect_params(), 'nag', optimizer_params, kvstore=opt.kvstore)
    start_epoch, best = opt.resume_epoch, (None, None)
    if opt.resume_states:  # the official files' pickled lr_scheduler is dropped
        load_trainer_states(trainer, opt.resume_states, '--resume-states', log)
    if opt.resume:
        start_epoch, best = session.resume(net, trainer, ctx)

    top1, top5 = mx.metric.Accuracy(), mx.metric.TopKAccuracy(min(5, classes))

    def validate():
        evaluate(net, val_data, ctx, [top1, top5], opt.dtype)
        acc1, acc5 = top1.get()[1], top5.get()[1]
        return {'val_top1_err': 1 - acc1, 'val_top5_err': 1 - acc5}, acc1

    result = fit(
        net, trainer, train_data, ctx,
        classification_loss(opt.mixup or opt.label_smoothing, teacher, opt.temperature,
                            opt.hard_weight, opt.dtype),
        opt.num_epochs, validate, session.checkpoints, session.metrics, log,
        run_info={'dataset': 'imagenet', 'classes': classes, 'num_workers': opt.num_workers},
        flags=vars(opt), seed=opt.seed, start_epoch=start_epoch, best=best,
        lr_at=lr_at,
        prepare=batch_preparation(classes, opt.dtype, opt.mixup, opt.mixup_alpha,
                                  opt.mixup_off_epoch, opt.num_epochs, opt.label_smoothing),
        save_period=opt.save_frequency, log_interval=opt.log_interval,
        plot=lambda records: plot_history(
            records, os.path.join(opt.save_dir, '%s_history.png' % model_name),
            lambda r: [1 - r['train_acc'], r['val_top1_err']]))
    if result['best_score'] is not None:
        log.info('best validation top-1 error %.4f at epoch %s', 1 - result['best_score'],
                 result['best_epoch'])
    if opt.export:
        exported = session.export(build_model(opt, classes), model_name,
                                  (1, 3, opt.input_size, opt.input_size))
        log.info('exported %s', ', '.join(exported))
    log.info('results in %s: metrics.jsonl, %s, checkpoints', opt.save_dir, opt.logging_file)


if __name__ == '__main__':
    sys.exit(run_main(main))
