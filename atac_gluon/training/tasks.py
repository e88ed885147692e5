"""What differs between the two training scripts, for :func:`atac_gluon.training.run.run`: the
model (built through the registry), the data, the loss and batch preparation, the learning-rate
schedule, the validation metrics and score, the checkpoint naming and the flags that identify a
run. Everything else is the runner's."""
import collections
import os

import mxnet as mx

from ..data import imagenet
from ..data.pipelines import cifar_batches
from ..errors import BadInput
from ..models import get_model
from ..models.cifar import get_cifar_resnet_atac, set_input_bn_statistics
from ..models.norm import GroupNorm
from ..models.params import load_parameters_checked
from ..models.zoo import load_shared_parameters
from .flags import decay_epochs
from .official import check_trainer_states, load_trainer_states
from .pretrained import build_teacher, pretrained_file
from .recipes import batch_preparation, classification_loss, no_weight_decay_on_bn_and_bias
from .schedules import step_schedule, warmup_schedule

__all__ = ['Data', 'Task', 'CifarTask', 'ImageNetTask']

#: the batches of a run and what the data says: classes and the constant metrics fields
#: (``dist_workers``: training processes, 1 until distributed training lands)
Data = collections.namedtuple('Data', 'train val classes run_info')


class Task(object):
    """The defaults both scripts share; :class:`CifarTask` and :class:`ImageNetTask` override
    what differs. ``model_name`` names the files (the official naming)."""

    model_name = None
    identity_flags = ()

    def gpus(self, opt):
        return opt.gpus

    def check_contexts(self, opt, ctx):
        """BadInput if the run cannot train on ``ctx``."""

    def dtype(self, opt):
        return 'float32'

    def save_period(self, opt):
        return opt.save_period

    def log_interval(self, opt):
        return 50

    def log_name(self, opt):
        return 'train.log'

    def optimizer_params(self, opt):
        return {'learning_rate': opt.lr, 'wd': opt.wd, 'momentum': opt.momentum}

    def before_training(self, net, opt, log):
        """Last changes to the network before it is hybridized (casts, weight-decay choices)."""

    def official_start(self, opt, trainer, log):
        """(first epoch, (best score, its epoch)) of a run that does not ``--resume``."""
        return 0, (None, None)

    def prepare(self, opt, classes):
        return None


class CifarTask(Task):
    """train_cifar.py: the pre-activation CIFAR host on CIFAR-10/100 or digits, accuracy."""

    DATASETS = {'cifar10': 10, 'cifar100': 100, 'digits': 10}
    identity_flags = ('model', 'blocks', 'act_type', 'r', 'act_layers', 'useGlobal', 'useReLU',
                      'dataset', 'fine_label', 'input_bn_from_data')

    def __init__(self, opt):
        self.model_name = 'ResNet20_b_%d_%s' % (opt.blocks, opt.act_type)
        self.train_batches = None  # load_data's, for --input-bn-from-data

    def default_classes(self, opt):
        return self.DATASETS[opt.dataset]

    def input_shape(self, opt):
        return get_cifar_resnet_atac.input_shape

    def build_model(self, opt, classes):
        # the registry's family factory: the official script's fixed choices for the rest
        return get_cifar_resnet_atac(opt.blocks, classes=classes, act_type=opt.act_type,
                                     r=opt.r, useReLU=opt.useReLU, useGlobal=opt.useGlobal,
                                     act_layers=opt.act_layers)

    def load_data(self, opt, batch_size, log, part=(0, 1)):
        train, val, label_set = cifar_batches(opt.dataset, opt.data_dir, batch_size,
                                              opt.fine_label, opt.seed, opt.num_workers, log,
                                              part)
        self.train_batches = train
        return Data(train, val, self.DATASETS[opt.dataset],
                    {'dataset': opt.dataset, 'label_set': label_set,
                     'num_workers': opt.num_workers, 'dist_workers': 1})

    def initialize(self, net, opt, classes, ctx):
        net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
        if opt.resume_from:
            load_parameters_checked(net, opt.resume_from, '--resume-from', ctx)
        if not opt.input_bn_from_data:
            return []  # the official network: its input BatchNorm stays at mean 0 / var 1
        # the whole training set whatever this worker's share (all workers agree), crops
        # included; replaces --resume-from's, and on --resume the checkpoint's (the same ones:
        # the flag identifies the run) replace these
        mean, var = self.train_batches.channel_statistics()
        set_input_bn_statistics(net, mean, var)
        return ['input BatchNorm running statistics set from the training data: mean %s var %s'
                % (_numbers(mean), _numbers(var))]

    def checkpoint_prefix(self, opt):
        return '%s-%s' % (opt.dataset, self.model_name)

    def best_stem(self, accuracy, epoch):
        return '%.4f-cifar-%s-%d-best' % (accuracy, self.model_name, epoch)

    def plot_path(self, opt):
        return os.path.join(opt.save_plot_dir, '%s_history.png' % self.model_name)

    @staticmethod
    def plot_errors(record):
        return [1 - record['train_acc'], 1 - record['val_acc']]

    def loss(self, opt):
        loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
        return lambda output, target, data: loss(output, target)

    def lr_at(self, opt, iters_per_epoch):
        by_epoch = step_schedule(opt.lr, opt.lr_decay, decay_epochs(opt))
        return lambda epoch, batch: by_epoch(epoch)

    def metrics(self, classes):
        return [mx.metric.Accuracy()]

    def record(self, metrics):
        accuracy = metrics[0].get()[1]
        return {'val_acc': accuracy}, accuracy

    def best_line(self, result):
        return 'best validation accuracy %.4f at epoch %s' % (result['best_score'],
                                                               result['best_epoch'])


class ImageNetTask(Task):
    """train_imagenet.py: ResNet-v1b ATAC on RecordIO or image folders, top-1/top-5 error, the
    README recipe (warm-up schedules, mixup, label smoothing, no-wd, distillation, float16)."""

    identity_flags = ('act_type', 'r', 'act_layers', 'use_gn', 'dtype', 'use_rec')

    def __init__(self, opt):
        self.model_name = 'ResNet50_v1b_' + opt.act_type
        self.teacher = None

    def gpus(self, opt):
        return ','.join(str(i) for i in range(opt.num_gpus))

    def check_contexts(self, opt, ctx):
        if opt.dtype != 'float32' and all(c.device_type == 'cpu' for c in ctx):
            raise BadInput("--dtype %s: MXNet's CPU kernels do not train in %s; use GPUs "
                           '(--num-gpus) or --dtype float32' % (opt.dtype, opt.dtype))

    def dtype(self, opt):
        return opt.dtype

    def save_period(self, opt):
        return opt.save_frequency

    def log_interval(self, opt):
        return opt.log_interval

    def log_name(self, opt):
        return opt.logging_file

    def default_classes(self, opt):
        return opt.classes or 1000

    def input_shape(self, opt):
        return (1, 3, opt.input_size, opt.input_size)

    def build_model(self, opt, classes):
        norm = {'norm_layer': GroupNorm} if opt.use_gn else {}
        # name_prefix '' as the official script's network: the names inside exported graphs
        return get_model('resnet50_v1b_atac', act_type=opt.act_type, r=opt.r,
                         act_layers=opt.act_layers, classes=classes, last_gamma=opt.last_gamma,
                         name_prefix='', **norm)

    def load_data(self, opt, batch_size, log, part=(0, 1)):
        if opt.use_rec:
            # the headers are read in full (seconds for ImageNet) to count the classes and to
            # catch a bad index, which would abort the process inside ImageRecordIter's threads
            samples, classes = imagenet.rec_stats(opt.rec_train, opt.rec_train_idx)
            _, val_classes = imagenet.rec_stats(opt.rec_val, opt.rec_val_idx)
            classes = _number_of_classes(opt.classes, max(classes, val_classes), opt.rec_train)
            train, val = imagenet.rec_iterators(
                opt.rec_train, opt.rec_train_idx, opt.rec_val, opt.rec_val_idx, batch_size,
                opt.num_workers, opt.input_size, opt.crop_ratio, opt.seed, part)
        else:
            samples, classes, _ = imagenet.folder_stats(
                os.path.join(os.path.expanduser(opt.data_dir), 'train'))
            classes = _number_of_classes(opt.classes, classes, opt.data_dir)
            train, val = imagenet.folder_iterators(opt.data_dir, batch_size, opt.num_workers,
                                                   opt.input_size, opt.crop_ratio, part)
        log.info('%s: %d training samples, %d classes, %d batches of %d per epoch%s',
                 'RecordIO' if opt.use_rec else opt.data_dir, samples, classes, len(train),
                 batch_size, ' on each of %d workers' % part[1] if part[1] > 1 else '')
        return Data(train, val, classes, {'dataset': 'imagenet', 'classes': classes,
                                          'num_workers': opt.num_workers, 'dist_workers': 1})

    def initialize(self, net, opt, classes, ctx):
        """Initialize ``net`` (pretrained layers, ``--resume-params``), build the teacher, and
        return lines for the log; all files are read here, before anything is written."""
        net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
        notes = []
        if opt.use_pretrained or opt.pretrained_params:
            path = opt.pretrained_params or pretrained_file(
                'resnet50_v1b_gn' if opt.use_gn else 'resnet50_v1b', '--use-pretrained')
            flag = '--pretrained-params' if opt.pretrained_params else '--use-pretrained'
            report = load_shared_parameters(net, path, '%s %s' % (flag, path))
            notes.append('initialised %d parameters from %s (%d of another shape kept, %d not '
                         'in it)' % (len(report['loaded']), path, len(report['skipped']),
                                     len(report['missing'])))
        if opt.resume_params:  # float16 files (the official release) too: cast on loading
            load_parameters_checked(net, opt.resume_params, '--resume-params', ctx,
                                    cast_dtype=True)
        if opt.resume_states:  # checked before anything is written, loaded into the trainer
            check_trainer_states(opt.resume_states, net.collect_params(), 'nag',
                                 '--resume-states')
        if opt.teacher and opt.hard_weight < 1.0:  # the official condition
            self.teacher = build_teacher(opt.teacher, classes, opt.teacher_params, ctx)
            notes.append('distillation from %s (temperature %g, hard weight %g)'
                         % (opt.teacher, opt.temperature, opt.hard_weight))
        return notes

    def before_training(self, net, opt, log):
        net.cast(opt.dtype)
        if self.teacher is not None:
            self.teacher.cast(opt.dtype)
            if opt.mode == 'hybrid':
                self.teacher.hybridize(static_alloc=True, static_shape=True)
        if opt.no_wd:
            no_weight_decay_on_bn_and_bias(net)

    def optimizer_params(self, opt):
        params = Task.optimizer_params(self, opt)
        if opt.dtype != 'float32':
            params['multi_precision'] = True
        return params

    def official_start(self, opt, trainer, log):
        if opt.resume_states:
            load_trainer_states(trainer, opt.resume_states, '--resume-states', log)
        return opt.resume_epoch, (None, None)

    def checkpoint_prefix(self, opt):
        return 'imagenet-%s' % self.model_name

    def best_stem(self, accuracy, epoch):
        return '%.4f-imagenet-%s-%d-best' % (1 - accuracy, self.model_name, epoch)

    def plot_path(self, opt):
        return os.path.join(opt.save_dir, '%s_history.png' % self.model_name)

    @staticmethod
    def plot_errors(record):
        return [1 - record['train_acc'], record['val_top1_err']]

    def loss(self, opt):
        return classification_loss(opt.mixup or opt.label_smoothing, self.teacher,
                                   opt.temperature, opt.hard_weight, opt.dtype)

    def prepare(self, opt, classes):
        return batch_preparation(classes, opt.dtype, opt.mixup, opt.mixup_alpha,
                                 opt.mixup_off_epoch, opt.num_epochs, opt.label_smoothing)

    def lr_at(self, opt, iters_per_epoch):
        return warmup_schedule(opt.lr_mode, opt.lr, opt.num_epochs, iters_per_epoch,
                               opt.warmup_epochs, opt.warmup_lr, opt.lr_decay,
                               decay_epochs(opt))

    def metrics(self, classes):
        return [mx.metric.Accuracy(), mx.metric.TopKAccuracy(min(5, classes))]

    def record(self, metrics):
        top1, top5 = metrics[0].get()[1], metrics[1].get()[1]
        return {'val_top1_err': 1 - top1, 'val_top5_err': 1 - top5}, top1

    def best_line(self, result):
        return 'best validation top-1 error %.4f at epoch %s' % (1 - result['best_score'],
                                                                  result['best_epoch'])


def _numbers(values):
    return '[%s]' % ', '.join('%.6g' % v for v in values)


def _number_of_classes(flag, found, source):
    """The model's classes: ``--classes`` if given, else the data's; BadInput when the data has
    fewer than 2 or more labels than ``--classes`` allows."""
    if found < 2:
        raise BadInput('%s: %d class found; classification needs at least 2' % (source, found))
    if flag is not None and flag < found:
        raise BadInput('--classes %d is smaller than the %d classes (labels 0..%d) of %s'
                       % (flag, found, found - 1, source))
    return flag or found
