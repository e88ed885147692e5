"""A run as the flags ask for it, resolved once: :class:`RunSpec` and its parts, and the two
scripts' builders :func:`cifar_spec` and :func:`imagenet_spec`.

The official scripts name the same things differently (``--gpus`` / ``--num-gpus``,
``--save-period`` / ``--save-frequency``, a fixed ``train.log`` / ``--logging-file``, a fixed log
interval / ``--log-interval``); the builders are the one place that knows it. Nothing here reads
a file or imports the network's weights: a spec is settings, built before anything is checked
against data.
"""
import functools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Tuple, Union

from mxnet.gluon import HybridBlock, nn

from ..conversion import zoo_model
from ..models import model_factory
from ..models.cifar import get_cifar_resnet_atac
from ..models.norm import GroupNorm
from .flags import decay_epochs
from .schedules import StepSchedule, WarmupSchedule

__all__ = ['ModelSpec', 'Optimizer', 'Score', 'RunFiles', 'RunSpec', 'cifar_spec',
           'imagenet_spec', 'spec_of', 'CIFAR_CLASSES']

#: train_cifar.py's data sets and the classes of their network (CIFAR-100's coarse labels
#: included: the official script trained them with a 100-way output)
CIFAR_CLASSES = {'cifar10': 10, 'cifar100': 100, 'digits': 10, 'fashion-mnist': 10}


@dataclass(frozen=True)
class ModelSpec:
    """The network of a run.

    Attributes
    ----------
    name : str
        The official name in file names, e.g. ``ResNet20_b_3_ChaATAC``.
    factory : callable
        ``factory(classes=..., **kwargs)`` builds it (a registry factory).
    kwargs : mapping
        Its keyword arguments, ``classes`` aside.
    classes : int
        The classes it is built with before the data is read (the data may hold others).
    input_shape : tuple of int
        One input batch (summary, export, distributed shape inference).
    head : str
        The attribute holding the classifier (a Dense layer), see :meth:`with_classes`.
    """

    name: str
    factory: Callable[..., HybridBlock]
    kwargs: Mapping[str, Any]
    classes: int
    input_shape: Tuple[int, ...]
    head: str

    def build(self) -> HybridBlock:
        """The network, uninitialised; BadInput if the model flags do not make one."""
        return self.factory(classes=self.classes, **self.kwargs)

    def with_classes(self, net: HybridBlock, classes: int) -> HybridBlock:
        """``net`` (from :meth:`build`, uninitialised) with a classifier of ``classes`` outputs.

        The network is built before the data is read, so that bad model flags are reported
        first; when the data then holds another number of classes only the classifier is
        replaced, under the same prefix: the parameter names are those of a network built with
        ``classes``.
        """
        old = getattr(net, self.head)
        if old._units == classes:
            return net
        setattr(net, self.head, nn.Dense(classes, in_units=old._in_units, flatten=old._flatten,
                                         use_bias=old.bias is not None, prefix=old.prefix))
        return net


@dataclass(frozen=True)
class Optimizer:
    """The Trainer's optimizer and its settings (both scripts: NAG)."""

    learning_rate: float
    wd: float
    momentum: float
    multi_precision: bool = False  # float16 weights with float32 master copies
    name: str = 'nag'

    def params(self) -> Dict[str, Any]:
        """The Trainer's ``optimizer_params``."""
        params = {'learning_rate': self.learning_rate, 'wd': self.wd,
                  'momentum': self.momentum}
        if self.multi_precision:
            params['multi_precision'] = True
        return params


@dataclass(frozen=True)
class Score:
    """The validation score the best checkpoint is chosen by (an accuracy: higher is better)
    and how a script shows it: CIFAR the accuracy, ImageNet the top-1 error (1 - accuracy), in
    the best checkpoint's name, the log and the history plot.

    Attributes
    ----------
    label : str
        e.g. ``validation accuracy``.
    field : str
        The metrics record's field of the validation figure shown.
    as_error : bool
        Whether the figure shown is 1 - score.
    """

    label: str
    field: str
    as_error: bool

    def shown(self, score: float) -> float:
        return 1 - score if self.as_error else score

    def plot_errors(self, record: Mapping[str, Any]) -> list:
        """[training error, validation error] of a metrics record, for the history plot."""
        value = record[self.field]
        return [1 - record['train_acc'], value if self.as_error else 1 - value]


@dataclass(frozen=True)
class RunFiles:
    """Where a run writes and under which names.

    Attributes
    ----------
    save_dir : str
        Checkpoints, metrics, the log.
    checkpoint_prefix : str
        Per-epoch checkpoints ``<prefix>-<epoch>``.
    best_name : str
        The best checkpoint is ``<score>-<best_name>-<epoch>-best`` (the official naming).
    log_name : str
        The log file, in ``save_dir``.
    plot_path : str
        The history plot.
    """

    save_dir: str
    checkpoint_prefix: str
    best_name: str
    log_name: str
    plot_path: str


@dataclass(frozen=True)
class RunSpec:
    """Everything the runner needs to know of a run, resolved from the flags once.

    Attributes
    ----------
    model : ModelSpec
    dtype : str
        The network's data type.
    gpus : str
        The devices as the official ``--gpus`` string ('0,1'; '' for the CPU).
    batch_size : int
        Per device.
    num_epochs, seed : int
    hybridize : bool
        ``--mode hybrid``: a static graph.
    kvstore : str
        ``--kvstore``.
    files : RunFiles
    save_period : int
        Every ``save_period``-th checkpoint is kept (0: only the newest and the best).
    log_interval : int
        Batches between progress lines (0: none).
    optimizer : Optimizer
    schedule : StepSchedule or WarmupSchedule
    score : Score
    start_epoch : int
        The first epoch of a run that does not ``--resume`` (the official ``--resume-epoch``).
    resume, summary, export, fused_gates : bool
        The flags of the same names.
    identity : mapping
        The flags that define the model and data: ``--resume`` refuses a checkpoint made with
        other values.
    flags : mapping
        Every flag, stored in each checkpoint's manifest.
    """

    model: ModelSpec
    dtype: str
    gpus: str
    batch_size: int
    num_epochs: int
    seed: int
    hybridize: bool
    kvstore: str
    files: RunFiles
    save_period: int
    log_interval: int
    optimizer: Optimizer
    schedule: Union[StepSchedule, WarmupSchedule]
    score: Score
    start_epoch: int = 0
    resume: bool = False
    summary: bool = False
    export: bool = False
    fused_gates: bool = False
    identity: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, Any] = field(default_factory=dict)

    def best_stem(self, score: float, epoch: int) -> str:
        """The name of the best checkpoint (official style)."""
        return '%.4f-%s-%d-best' % (self.score.shown(score), self.files.best_name, epoch)


_CIFAR_IDENTITY = ('model', 'blocks', 'act_type', 'r', 'act_layers', 'useGlobal', 'useReLU',
                   'dataset', 'fine_label', 'input_bn_from_data', 'train_subset', 'val_subset',
                   'normalization')
_IMAGENET_IDENTITY = ('act_type', 'r', 'act_layers', 'useReLU', 'useGlobal', 'use_gn', 'dtype',
                      'use_rec')


def _common(opt, identity):
    """The fields both scripts' flags give alike."""
    return dict(batch_size=opt.batch_size, num_epochs=opt.num_epochs, seed=opt.seed,
                hybridize=opt.mode == 'hybrid', kvstore=opt.kvstore, resume=opt.resume,
                summary=opt.summary, export=opt.export, fused_gates=opt.fused_gates,
                identity={k: getattr(opt, k) for k in identity}, flags=dict(vars(opt)))


def cifar_spec(opt) -> RunSpec:
    """The run of train_cifar.py's checked flags ``opt``."""
    if opt.model == 'atac':
        name = 'ResNet20_b_%d_%s' % (opt.blocks, opt.act_type)
        # the registry's family factory: the official script's fixed choices for the rest
        model = ModelSpec(name, get_cifar_resnet_atac,
                          dict(blocks=opt.blocks, act_type=opt.act_type, r=opt.r,
                               useReLU=opt.useReLU, useGlobal=opt.useGlobal,
                               act_layers=opt.act_layers),
                          CIFAR_CLASSES[opt.dataset], get_cifar_resnet_atac.input_shape, 'output')
    else:  # a GluonCV CIFAR model, converted (atac_gluon.conversion.zoo_model)
        name = '%s_%s' % (opt.model, opt.act_type)
        shape = get_cifar_resnet_atac.input_shape
        extra = {'drop_rate': opt.drop_rate} if 'wideresnet' in opt.model else {}
        model = ModelSpec(name, functools.partial(zoo_model, opt.model),
                          dict(input_shape=shape, act_type=opt.act_type, r=opt.r,
                               useReLU=opt.useReLU, useGlobal=opt.useGlobal,
                               act_layers=opt.act_layers, **extra),
                          CIFAR_CLASSES[opt.dataset], shape, 'output')
    files = RunFiles(opt.save_dir, '%s-%s' % (opt.dataset, name), 'cifar-' + name, 'train.log',
                     os.path.join(opt.save_plot_dir, '%s_history.png' % name))
    return RunSpec(model=model, dtype='float32', gpus=opt.gpus, files=files,
                   save_period=opt.save_period, log_interval=50,
                   optimizer=Optimizer(opt.lr, opt.wd, opt.momentum),
                   schedule=StepSchedule(opt.lr, opt.lr_decay, tuple(decay_epochs(opt))),
                   score=Score('validation accuracy', 'val_acc', as_error=False),
                   **_common(opt, _CIFAR_IDENTITY))


def is_v1b(name: str) -> bool:
    """Whether GluonCV's model ``name`` is a ResNet-v1b style network (``last_gamma``, ``fc``)."""
    from gluoncv.model_zoo.model_zoo import _models
    return _models[name].__module__.startswith(('gluoncv.model_zoo.resnetv1b',
                                                'gluoncv.model_zoo.pruned_resnet'))


def imagenet_spec(opt) -> RunSpec:
    """The run of train_imagenet.py's checked flags ``opt``."""
    shape = (1, 3, opt.input_size, opt.input_size)
    if getattr(opt, 'model', None) is None:
        name = 'ResNet50_v1b_' + opt.act_type
        norm = {'norm_layer': GroupNorm} if opt.use_gn else {}
        # name_prefix '' as the official script's network: the names inside exported graphs
        model = ModelSpec(name, model_factory('resnet50_v1b_atac'),
                          dict(act_type=opt.act_type, r=opt.r, act_layers=opt.act_layers,
                               useReLU=opt.useReLU, useGlobal=opt.useGlobal,
                               last_gamma=opt.last_gamma, name_prefix='', **norm),
                          opt.classes or 1000, shape, 'fc')
    else:  # a GluonCV model, converted (atac_gluon.conversion.zoo_model)
        name = '%s_%s' % (opt.model, opt.act_type)
        v1b = is_v1b(opt.model)
        model = ModelSpec(name, functools.partial(zoo_model, opt.model),
                          dict(input_shape=shape, act_type=opt.act_type, r=opt.r,
                               useReLU=opt.useReLU, useGlobal=opt.useGlobal,
                               act_layers=opt.act_layers,
                               **({'last_gamma': opt.last_gamma} if v1b else {})),
                          opt.classes or 1000, shape, 'fc' if v1b else 'output')
    files = RunFiles(opt.save_dir, 'imagenet-' + name, 'imagenet-' + name, opt.logging_file,
                     os.path.join(opt.save_dir, '%s_history.png' % name))
    schedule = WarmupSchedule(opt.lr_mode, opt.lr, opt.num_epochs, opt.warmup_epochs,
                              opt.warmup_lr, opt.lr_decay, tuple(decay_epochs(opt)))
    return RunSpec(model=model, dtype=opt.dtype,
                   gpus=','.join(str(i) for i in range(opt.num_gpus)), files=files,
                   save_period=opt.save_frequency, log_interval=opt.log_interval,
                   optimizer=Optimizer(opt.lr, opt.wd, opt.momentum,
                                       multi_precision=opt.dtype != 'float32'),
                   schedule=schedule,
                   score=Score('validation top-1 error', 'val_top1_err', as_error=True),
                   start_epoch=opt.resume_epoch,
                   **_common(opt, _IMAGENET_IDENTITY + (('model',) if getattr(
                       opt, 'model', None) else ())))


def spec_of(script: str, opt) -> RunSpec:
    """The run of ``script``'s (``'cifar'`` or ``'imagenet'``) checked flags ``opt``."""
    return {'cifar': cifar_spec, 'imagenet': imagenet_spec}[script](opt)
