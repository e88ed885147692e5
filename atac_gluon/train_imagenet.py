"""Train ATAC-ResNet-50 on ImageNet (the official open-atac train_imagenet.py, every flag kept).

    python train_imagenet.py --mode hybrid --lr 0.075 --lr-mode cosine --num-epochs 160 \
        --batch-size 128 --num-gpus 2 -j 48 --warmup-epochs 5 --dtype float16 --use-rec \
        --last-gamma --no-wd --label-smoothing --save-dir params_resnet50_v1b_ChaATAC_2 \
        --logging-file resnet50_v1b_ChaATAC_2.log --r 2 --act-layers 2

Classes and the epoch length (which sets the learning-rate schedule) come from the data.
Results go to --save-dir: metrics.jsonl (top-1/top-5 validation error), the log file,
checkpoints (official <err>-imagenet-<model>-<epoch>-best naming). Exit codes: 0 done,
2 bad flag/file/data, 3 loss diverged, 4 a result could not be written, 130 interrupted.
"""
import sys

from .training.threads import configure_cpu_threads

if __name__ == '__main__':  # python -m: before mxnet is imported
    configure_cpu_threads(sys.argv[1:])

import argparse  # noqa: E402

from .errors import BadInput, run_main  # noqa: E402
from .models.imagenet import MAX_ACT_LAYERS  # noqa: E402
from .training.flags import add_official_flags, add_run_flags, check_run_flags  # noqa: E402
from .conversion import zoo_names  # noqa: E402
from .training.run import run  # noqa: E402
from .training.spec import is_v1b  # noqa: E402
from .training.spec import imagenet_spec  # noqa: E402
from .training.tasks import ImageNetTask  # noqa: E402

LR_MODES = ('step', 'poly', 'cosine', 'linear', 'constant')
DTYPES = ('float32', 'float16')


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Train a model for image classification.')
    # the official flags, names, meanings and defaults
    add_official_flags(parser, 'imagenet', num_epochs=3,
                       act_layers_help='stages, counted from the last, with --act-type: 0 to %d'
                                       % MAX_ACT_LAYERS,
                       summary_help='print FLOPs and parameter numbers and exit (no data needed)',
                       lr_decay_period_help='interval for periodic learning rate decays; 0 to '
                                            'disable.')
    parser.add_argument('--model', type=str, default=None,
                        help="a GluonCV ImageNet classification model name (e.g. mobilenet1.0) "
                             'converted with the act flags (atac_gluon.convert); default the '
                             "paper's ResNet50_v1bATAC")
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
    parser.add_argument('--dtype', type=str, default='float32',
                        help='data type for training: float32, or float16 (GPU only)')
    parser.add_argument('--num-gpus', type=int, default=0,
                        help='number of gpus to use (without GPUs: as many CPU contexts)')
    parser.add_argument('--lr-mode', type=str, default='step',
                        help='learning rate scheduler mode: step, poly, cosine (linear, constant)')
    parser.add_argument('--warmup-lr', type=float, default=0.0,
                        help='starting warmup learning rate. default is 0.0.')
    parser.add_argument('--warmup-epochs', type=int, default=0, help='number of warmup epochs.')
    parser.add_argument('--last-gamma', action='store_true',
                        help='whether to init gamma of the last BN layer in each bottleneck to 0.')
    parser.add_argument('--input-size', type=int, default=224, help='size of the input image')
    parser.add_argument('--crop-ratio', type=float, default=0.875,
                        help='Crop ratio during validation. default is 0.875')
    parser.add_argument('--use-pretrained', action='store_true',
                        help="initialise the layers shared with GluonCV's resnet50_v1b (with "
                             '--model NAME: that network) from its pretrained weights '
                             '(download, or --pretrained-params)')
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
                        help='local GluonCV parameters for --use-pretrained (of resnet50_v1b, or '
                             'of the --model network)')
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
    if opt.model is not None:
        check_zoo_model(opt)


def check_zoo_model(opt):
    """``--model NAME``: a GluonCV ImageNet classification name, and the flags it can take."""
    names = zoo_names('imagenet')
    opt.model = opt.model.lower()
    if opt.model not in names:
        raise BadInput('--model must be a GluonCV ImageNet classification model name (%s), '
                       'got %r' % (', '.join(names), opt.model))
    if opt.use_gn:
        raise BadInput('--use-gn builds the GroupNorm ResNet50_v1bATAC; with --model pick a '
                       'GluonCV name with GroupNorm (e.g. resnet50_v1b_gn)')
    if opt.last_gamma and not is_v1b(opt.model):
        raise BadInput('--last-gamma applies to ResNet-v1b style models, not %s' % opt.model)


def main(argv=None):
    opt = parse_args(argv)
    run(imagenet_spec(opt), ImageNetTask.from_flags(opt))


def entry():
    """``python -m atac_gluon.train_imagenet``."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
