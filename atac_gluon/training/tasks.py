"""What differs between the two training scripts, as behaviour, for
:func:`atac_gluon.training.run.run`: reading the data, initialising the network, the objective
(loss and batch preparation), the start of a run that does not ``--resume``, and validation.
Each returns what it makes; the settings the runner needs are in the
:class:`~atac_gluon.training.spec.RunSpec`, the task keeps those only it uses."""
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Tuple

import mxnet as mx

from ..data.pipelines import cifar_batches, imagenet_batches
from ..evaluation import evaluate
from ..models.cifar import set_input_bn_statistics
from ..models.params import load_parameters_checked
from ..models.zoo import load_shared_parameters
from .loop import Objective, Validation
from .pretrained import build_teacher, pretrained_file
from .recipes import batch_preparation, classification_loss, no_weight_decay_on_bn_and_bias
from .rundir import Start
from .spec import CIFAR_CLASSES
from .trainer_states import check_trainer_states, load_trainer_states

__all__ = ['Data', 'Task', 'CifarTask', 'ImageNetTask']


@dataclass(frozen=True)
class Data:
    """The batches of a run and what the data says: the network's classes and the constant
    fields of every metrics record (``dist_workers``: training processes, set by the runner)."""

    train: Any
    val: Any
    classes: int
    run_info: Dict[str, Any]


class Task:
    """The behaviours a training script supplies to the runner (see the subclasses)."""

    def load_data(self, spec, batch_size, log, part=(0, 1)) -> Data:
        """The batches of ``batch_size`` (global), this worker's ``part`` of the training set."""
        raise NotImplementedError

    def initialize(self, net, spec, data, ctx) -> List[str]:
        """Initialise ``net`` on ``ctx`` (and every file the task reads into it, checked before
        anything is written), cast it to the run's dtype; returns lines for the log."""
        raise NotImplementedError

    def objective(self, spec, classes, ctx) -> Objective:
        """The loss and batch preparation (ready to train; files read here too)."""
        loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
        return Objective(lambda output, target, data: loss(output, target))

    def official_start(self, spec, trainer, log) -> Start:
        """Where a run that does not ``--resume`` starts."""
        return Start(spec.start_epoch)

    def validate(self, net, data, ctx, dtype) -> Validation:
        """Score ``net`` on ``data.val``."""
        raise NotImplementedError


@dataclass(frozen=True)
class CifarTask(Task):
    """train_cifar.py: the pre-activation CIFAR host on CIFAR-10/100, digits or Fashion-MNIST,
    accuracy."""

    dataset: str
    data_dir: Optional[str]
    fine_label: bool
    num_workers: int
    resume_from: Optional[str]
    input_bn_from_data: bool
    train_subset: int = 0
    val_subset: int = 0
    normalization: str = 'dataset'

    @classmethod
    def from_flags(cls, opt) -> 'CifarTask':
        return cls(**{field.name: getattr(opt, field.name) for field in fields(cls)})

    def load_data(self, spec, batch_size, log, part=(0, 1)) -> Data:
        train, val, label_set = cifar_batches(self.dataset, self.data_dir, batch_size,
                                              self.fine_label, spec.seed, self.num_workers, log,
                                              part, self.train_subset, self.val_subset,
                                              self.normalization)
        return Data(train, val, CIFAR_CLASSES[self.dataset],
                    {'dataset': self.dataset, 'label_set': label_set,
                     'num_workers': self.num_workers, 'dist_workers': 1})

    def initialize(self, net, spec, data, ctx) -> List[str]:
        net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
        if self.resume_from:
            load_parameters_checked(net, self.resume_from, '--resume-from', ctx)
        if not self.input_bn_from_data:
            return []  # the official network: its input BatchNorm stays at mean 0 / var 1
        # the whole training set whatever this worker's share (all workers agree), crops
        # included; replaces --resume-from's, and on --resume the checkpoint's (the same ones:
        # the flag identifies the run) replace these
        mean, var = data.train.channel_statistics()
        set_input_bn_statistics(net, mean, var)
        return ['input BatchNorm running statistics set from the training data: mean %s var %s'
                % (_numbers(mean), _numbers(var))]

    def validate(self, net, data, ctx, dtype) -> Validation:
        accuracy = evaluate(net, data.val, ctx, [mx.metric.Accuracy()], dtype)[0].get()[1]
        return Validation({'val_acc': accuracy}, accuracy)


@dataclass(frozen=True)
class ImageNetTask(Task):
    """train_imagenet.py: ResNet-v1b ATAC on RecordIO or image folders, top-1/top-5 error, the
    README recipe (warm-up schedules, mixup, label smoothing, no-wd, distillation, float16)."""

    data_dir: str
    rec_files: Optional[Tuple[str, str, str, str]]  # --use-rec: train.rec/.idx, val.rec/.idx
    classes: Optional[int]
    input_size: int
    crop_ratio: float
    num_workers: int
    pretrained: Optional[str]  # the flag that asks for them, or None
    pretrained_params: Optional[str]
    use_gn: bool
    resume_params: str
    resume_states: str
    teacher: Optional[str]
    teacher_params: Optional[str]
    temperature: float
    hard_weight: float
    mixup: bool
    mixup_alpha: float
    mixup_off_epoch: int
    label_smoothing: bool
    no_wd: bool
    model: Optional[str] = None  # --model: a GluonCV name (its pretrained weights)

    @classmethod
    def from_flags(cls, opt) -> 'ImageNetTask':
        rec_files = ((opt.rec_train, opt.rec_train_idx, opt.rec_val, opt.rec_val_idx)
                     if opt.use_rec else None)
        pretrained = ('--pretrained-params' if opt.pretrained_params else
                      '--use-pretrained' if opt.use_pretrained else None)
        return cls(rec_files=rec_files, pretrained=pretrained, **{
            name: getattr(opt, name) for name in (
                'data_dir', 'classes', 'input_size', 'crop_ratio', 'num_workers',
                'pretrained_params', 'use_gn', 'resume_params', 'resume_states', 'teacher',
                'teacher_params', 'temperature', 'hard_weight', 'mixup', 'mixup_alpha',
                'mixup_off_epoch', 'label_smoothing', 'no_wd')}, model=getattr(opt, 'model', None))

    def load_data(self, spec, batch_size, log, part=(0, 1)) -> Data:
        train, val, classes = imagenet_batches(
            self.data_dir, self.rec_files, batch_size, self.num_workers, self.input_size,
            self.crop_ratio, spec.seed, log, self.classes, part)
        return Data(train, val, classes, {'dataset': 'imagenet', 'classes': classes,
                                          'num_workers': self.num_workers, 'dist_workers': 1})

    def initialize(self, net, spec, data, ctx) -> List[str]:
        """Pretrained layers, ``--resume-params``, the ``--resume-states`` check, the dtype and
        the weight-decay choices."""
        net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
        notes = []
        if self.pretrained:
            path = self.pretrained_params or pretrained_file(
                self.model or ('resnet50_v1b_gn' if self.use_gn else 'resnet50_v1b'),
                '--use-pretrained')
            report = load_shared_parameters(net, path, '%s %s' % (self.pretrained, path))
            notes.append('initialised %d parameters from %s (%d of another shape kept, %d not '
                         'in it)' % (len(report['loaded']), path, len(report['skipped']),
                                     len(report['missing'])))
        if self.resume_params:  # float16 files (the official release) too: cast on loading
            load_parameters_checked(net, self.resume_params, '--resume-params', ctx,
                                    cast_dtype=True)
        if self.resume_states:  # checked before anything is written, loaded into the trainer
            check_trainer_states(self.resume_states, net.collect_params(), spec.optimizer.name,
                                 '--resume-states')
        net.cast(spec.dtype)
        if self.no_wd:
            no_weight_decay_on_bn_and_bias(net)
        return notes

    def objective(self, spec, classes, ctx) -> Objective:
        teacher, notes = None, []
        if self.teacher and self.hard_weight < 1.0:  # the official condition
            teacher = build_teacher(self.teacher, classes, self.teacher_params, ctx)
            teacher.cast(spec.dtype)
            if spec.hybridize:
                teacher.hybridize(static_alloc=True, static_shape=True)
            notes.append('distillation from %s (temperature %g, hard weight %g)'
                         % (self.teacher, self.temperature, self.hard_weight))
        loss = classification_loss(self.mixup or self.label_smoothing, teacher,
                                   self.temperature, self.hard_weight, spec.dtype)
        prepare = batch_preparation(classes, spec.dtype, self.mixup, self.mixup_alpha,
                                    self.mixup_off_epoch, spec.num_epochs, self.label_smoothing)
        return Objective(loss, prepare, tuple(notes))

    def official_start(self, spec, trainer, log) -> Start:
        if self.resume_states:
            load_trainer_states(trainer, self.resume_states, '--resume-states', log)
        return Start(spec.start_epoch)

    def validate(self, net, data, ctx, dtype) -> Validation:
        metrics = [mx.metric.Accuracy(), mx.metric.TopKAccuracy(min(5, data.classes))]
        top1, top5 = (m.get()[1] for m in evaluate(net, data.val, ctx, metrics, dtype))
        return Validation({'val_top1_err': 1 - top1, 'val_top5_err': 1 - top5}, top1)


def _numbers(values):
    return '[%s]' % ', '.join('%.6g' % v for v in values)
