"""The paper's experiments as suites of configurations of the two training scripts.

A :class:`Configuration` is one training command at the paper's full scale: the official README
recipe plus the flags that make this configuration; trained, it is a run in ``DIR/SUITE/<name>/``.
:func:`command_flags` adapts it (``--epochs``, ``--gpus``, ``--data-dir``, smoke scale) without
changing what the configuration is. A :class:`Suite` says how its report is laid out
(:class:`ReportKind`).
"""
import collections
import dataclasses
import enum
import fnmatch
from typing import Optional, Tuple

from ..errors import BadInput

__all__ = ['Configuration', 'Scale', 'Suite', 'SUITES', 'get_suite', 'select_configurations',
           'select_scale', 'command_flags', 'CIFAR_RECIPE', 'IMAGENET_RECIPE', 'SMOKE_MAX_BLOCKS',
           'cifar_act_flags', 'ReportKind', 'FULL_SCALE', 'SMOKE_SCALE']


@dataclasses.dataclass(frozen=True)
class Configuration:
    """One training command of a suite.

    ``name`` is its save directory under ``DIR/SUITE/``, ``script`` 'cifar' or 'imagenet',
    ``flags`` ordered (flag, value) pairs (value None for a switch), ``labels`` what the report
    groups by (dataset, variant, b, ...), ``paper`` (section of paper-results.md, column, row
    key) of the paper's number, or None.
    """
    name: str
    script: str
    flags: Tuple[Tuple[str, object], ...]
    labels: dict
    paper: Optional[Tuple[str, str, str]] = None


class ReportKind(enum.Enum):
    """The layout of a suite's report."""
    FIGURE = 'figure'  # accuracy against depth per variant (Fig. 7 / Fig. 8)
    ABLATIONS = 'ablations'  # each ablation against the base configuration
    IMAGENET = 'imagenet'  # Table IV and the official ImageNet log
    SEEDS = 'seeds'  # mean ± std over seeds per configuration, differences to ReLU, curves
    MODELS = 'models'  # per converted GluonCV network, each activation against ReLU


#: the scale names of a suite's runs besides its own smaller :class:`Scale` s: the
#: configurations as they are, and ``--smoke``
FULL_SCALE, SMOKE_SCALE = 'full', 'smoke'


@dataclasses.dataclass(frozen=True)
class Scale:
    """A smaller scale of a suite's runs (``run SUITE --scale NAME``), for a machine without a
    GPU: the same configurations, at fewer epochs and on other flags.

    ``epochs`` replaces the recipe's (its decay epochs scale with it, as ``--epochs``);
    ``flags`` are (flag, value) overrides of every run (value None: a switch);
    ``blocks`` the depths it keeps (None: all); ``fused_gates`` adds ``--fused-gates`` where
    it applies (local ChaATAC units, float32); ``description`` says how it was chosen.
    """
    name: str
    epochs: int
    flags: Tuple[Tuple[str, object], ...]
    description: str
    blocks: Optional[Tuple[int, ...]] = None
    fused_gates: bool = False


@dataclasses.dataclass(frozen=True)
class Suite:
    """A named list of configurations.

    ``metric`` is the metrics.jsonl key compared with the paper (``val_acc``: higher is better,
    ``val_top1_err``: lower is better); ``report`` the layout of its report; ``gates``: the gate
    pictures of each trained configuration are drawn and shown in the report; ``paper_only``:
    variants of the paper's table that no configuration trains (paper-only columns);
    ``scales``: smaller scales besides the full one (:class:`Scale`).
    """
    name: str
    title: str
    configurations: list
    metric: str
    description: str
    report: ReportKind = ReportKind.FIGURE
    gates: bool = False
    paper_only: Tuple[str, ...] = ()
    scales: Tuple[Scale, ...] = ()

    def __post_init__(self):
        if not isinstance(self.report, ReportKind):
            raise TypeError('report must be a ReportKind, got %r' % (self.report,))

    @property
    def higher_is_better(self):
        return self.metric == 'val_acc'

    def replace(self, **changes):
        """A copy with ``changes`` (e.g. fewer configurations)."""
        return dataclasses.replace(self, **changes)


# The official README commands (paper-results.md, "CIFAR recipe" and "ImageNet").
CIFAR_RECIPE = (('--gpus', '0'), ('--num-epochs', 400), ('--mode', 'hybrid'), ('-j', 32),
                ('--batch-size', 128), ('--wd', 0.0001), ('--lr', 0.2), ('--lr-decay', 0.1),
                ('--lr-decay-epoch', '300,350'), ('--model', 'atac'))
IMAGENET_RECIPE = (('--mode', 'hybrid'), ('--lr', 0.075), ('--lr-mode', 'cosine'),
                   ('--num-epochs', 160), ('--batch-size', 128), ('--num-gpus', 2), ('-j', 48),
                   ('--warmup-epochs', 5), ('--dtype', 'float16'), ('--use-rec', None),
                   ('--last-gamma', None), ('--no-wd', None), ('--label-smoothing', None),
                   ('--r', 2), ('--act-layers', 2))

DATASETS = (('cifar10', 'C10'), ('cifar100', 'C100'))
DEPTHS = (1, 2, 3, 4, 5)
SMOKE_MAX_BLOCKS = 2


def cifar_act_flags(act_type, r=2, use_relu=True, use_global=False, act_layers=None):
    """The activation flags of a CIFAR run: ReLU/SELU/Swish need none but ``--act-type``."""
    flags = [('--act-type', act_type)]
    if act_type == 'ChaATAC':
        flags += [('--r', r), ('--useReLU' if use_relu else '--no-useReLU', None)]
        if use_global:
            flags.append(('--useGlobal', None))
    if act_layers is not None:
        flags.append(('--act-layers', act_layers))
    return flags


def _cifar_config(name, dataset, blocks, act, labels, paper=None):
    flags = list(CIFAR_RECIPE) + [('--dataset', dataset), ('--blocks', blocks)] + act
    return Configuration(name, 'cifar', tuple(flags), dict(labels, dataset=dataset, b=blocks),
                         paper)


def _fig7():
    variants = (('relu', 'ReLU', cifar_act_flags('relu')),
                ('selu', 'SELU', cifar_act_flags('selu')),
                ('swish', 'Swish', cifar_act_flags('swish')),
                ('atac', 'ATAC', cifar_act_flags('ChaATAC')))
    return [_cifar_config('%s-%s-b%d' % (dataset, key, b), dataset, b, act, {'variant': title},
                          ('CIFAR depth sweep', '%s %s' % (short, title), str(b)))
            for dataset, short in DATASETS for key, title, act in variants for b in DEPTHS]


def _fig8():
    variants = (('resnet', 'ResNet', cifar_act_flags('relu')),
                ('se', 'SE', cifar_act_flags('ChaATAC', use_global=True)),
                ('atac', 'ATAC', cifar_act_flags('ChaATAC')))
    return [_cifar_config('%s-%s-b%d' % (dataset, key, b), dataset, b, act, {'variant': title},
                          ('CIFAR comparison', '%s %s' % (short, title), str(b)))
            for dataset, short in DATASETS for key, title, act in variants for b in DEPTHS[:4]]


#: the ablations of one ATAC setting (ResNet-20: b=3, r=2, inner ReLU, local, all 4 stages):
#: (configuration name suffix, ablation, setting, flags). The first is the base every group
#: compares to.
ABLATION_BLOCKS = 3
ABLATIONS = (
    ('base', 'base', 'r=2, inner ReLU, local, 4 stages', cifar_act_flags('ChaATAC')),
    ('r1', 'reduction r', 'r=1', cifar_act_flags('ChaATAC', r=1)),
    ('r4', 'reduction r', 'r=4', cifar_act_flags('ChaATAC', r=4)),
    ('r8', 'reduction r', 'r=8', cifar_act_flags('ChaATAC', r=8)),
    ('r16', 'reduction r', 'r=16', cifar_act_flags('ChaATAC', r=16)),
    ('no-inner-relu', 'inner ReLU', 'without', cifar_act_flags('ChaATAC', use_relu=False)),
    ('global', 'context', 'global (SE-style)', cifar_act_flags('ChaATAC', use_global=True)),
    ('act-layers1', 'stages with ATAC', '1 (final activation only)',
     cifar_act_flags('ChaATAC', act_layers=1)),
    ('act-layers2', 'stages with ATAC', '2', cifar_act_flags('ChaATAC', act_layers=2)),
    ('act-layers3', 'stages with ATAC', '3', cifar_act_flags('ChaATAC', act_layers=3)),
    # the input BatchNorm's running statistics (README, "The input BatchNorm"): the official
    # runs evaluate with mean 0 / var 1 there; this one sets them from the training data
    ('input-bn-from-data', 'input BatchNorm at evaluation', 'statistics of the training data',
     cifar_act_flags('ChaATAC') + [('--input-bn-from-data', None)]),
)


def _ablations():
    return [_cifar_config('%s-%s' % (dataset, key), dataset, ABLATION_BLOCKS, act,
                       {'ablation': group, 'setting': setting, 'key': key})
            for dataset, _ in DATASETS for key, group, setting, act in ABLATIONS]


def _imagenet():
    return [Configuration('atac-resnet50', 'imagenet', IMAGENET_RECIPE,
                          {'variant': 'ATAC-ResNet-50'},
                          ('ImageNet', 'top-1 err', 'ATAC-ResNet-50'))]


# --------------------------------------------------------------------------- fmnist

#: the fmnist variants: (name key, title, activation flags), ReLU first (the baseline)
FMNIST_VARIANTS = (('relu', 'ReLU', cifar_act_flags('relu')),
                   ('se', 'SE', cifar_act_flags('ChaATAC', use_global=True)),
                   ('atac', 'ATAC', cifar_act_flags('ChaATAC')))
#: the input BatchNorm at evaluation (README): (name key, label, flags)
FMNIST_INPUT_BN = (('official', 'official', []),
                   ('databn', 'from data', [('--input-bn-from-data', None)]))
FMNIST_DEPTHS = (1, 2, 3)
FMNIST_SEEDS = (0, 1, 2)


def _fmnist():
    """Every configuration once per seed; seed outermost, so that a suite stopped half-way has
    whole comparisons (every configuration at the first seeds) rather than a few complete
    configurations."""
    return [_cifar_config('%s-b%d-%s-s%d' % (key, b, bn_key, seed), 'fashion-mnist', b,
                          act + bn_flags + [('--seed', seed)],
                          {'variant': title, 'input_bn': bn, 'seed': seed})
            for seed in FMNIST_SEEDS for b in FMNIST_DEPTHS for key, title, act in FMNIST_VARIANTS
            for bn_key, bn, bn_flags in FMNIST_INPUT_BN]


#: the fmnist suite on 2 CPU cores, chosen from epoch times measured here (README,
#: "Fashion-MNIST", with the measured wall time): a run's cost grows in proportion to b, and the
#: SE-style host trains slowest, so b = 1..3 at 3 seeds would leave each run a few epochs of a
#: few thousand images, too little for the seed spread to shrink below the differences.
#: b = 1 alone, where the paper's ATAC gain is largest, affords 10,000 images (the subset the
#: issue's measurement with the official script used) for 8 epochs, all 10,000 test images
#: scored after every epoch; the decay epochs are the recipe's 300 and 350 of 400 scaled.
FMNIST_CPU = Scale(
    'cpu', epochs=8,
    flags=(('--gpus', '0'), ('-j', 2), ('--train-subset', 10000), ('--save-period', 0)),
    blocks=(1,), fused_gates=True,
    description='2 CPU cores: b = 1, 10,000 training images (1,000 per class), '
                'all 10,000 test images, 8 epochs (lr 0.2 decayed at 6 and 7, the recipe\'s '
                '300 and 350 of 400), seeds 0, 1, 2; fused ATAC gates')


# --------------------------------------------------------------------------- zoo

#: GluonCV CIFAR networks the zoo suite converts (train_cifar.py --model NAME): ResNet v1 and
#: v2 at two depths, and a wide ResNet
ZOO_MODELS = ('cifar_resnet20_v1', 'cifar_resnet56_v1', 'cifar_resnet20_v2', 'cifar_resnet56_v2',
              'cifar_wideresnet16_10')
#: the zoo variants, ReLU first (the network as GluonCV builds it, the baseline)
ZOO_VARIANTS = (('relu', 'ReLU', cifar_act_flags('relu')),
                ('swish', 'Swish', cifar_act_flags('swish')),
                ('atac', 'ATAC', cifar_act_flags('ChaATAC')))


def _zoo():
    """Fig. 7's comparison on GluonCV's own CIFAR networks, converted: the CIFAR recipe with
    ``--model NAME`` in place of the paper's host."""
    recipe = [flag for flag in CIFAR_RECIPE if flag[0] != '--model']
    return [Configuration('cifar10-%s-%s' % (model, key), 'cifar',
                          tuple(recipe + [('--model', model), ('--dataset', 'cifar10')] + act),
                          {'dataset': 'cifar10', 'model': model, 'variant': title})
            for model in ZOO_MODELS for key, title, act in ZOO_VARIANTS]


SUITES = collections.OrderedDict((suite.name, suite) for suite in (
    Suite('fig7', 'Fig. 7: CIFAR depth sweep, ReLU / SELU / Swish / ATAC', _fig7(), 'val_acc',
          'CIFAR-10 and CIFAR-100, b = 1..5 blocks per stage, ATAC r=2 with the inner ReLU'),
    Suite('fig8', 'Fig. 8: ResNet / SE-style / ATAC', _fig8(), 'val_acc',
          'CIFAR-10 and CIFAR-100, b = 1..4; SE is ChaATAC with global pooling (useGlobal)',
          gates=True, paper_only=('GE-θ',)),
    Suite('ablations', 'Ablations of the ATAC unit (ResNet-20 ATAC)', _ablations(), 'val_acc',
          'r in 1, 2, 4, 8, 16; inner ReLU; local vs global; ATAC stages 1..4; the input '
          'BatchNorm statistics', report=ReportKind.ABLATIONS),
    Suite('imagenet', 'Table IV: ATAC-ResNet-50 on ImageNet', _imagenet(), 'val_top1_err',
          'the README recipe: 160 epochs, 2 GPUs, float16, RecordIO',
          report=ReportKind.IMAGENET),
    Suite('fmnist', 'Fashion-MNIST: ReLU / SE-style / ATAC, official and data-set input '
                    'BatchNorm, over seeds', _fmnist(), 'val_acc',
          'the CIFAR host on Fashion-MNIST (all 60,000 training images, the CIFAR recipe), '
          'b = 1..3, ReLU / SE (ChaATAC + useGlobal) / ATAC (r=2, inner ReLU), each with the '
          'official input BatchNorm and with --input-bn-from-data, seeds 0, 1, 2',
          report=ReportKind.SEEDS, scales=(FMNIST_CPU,)),
    Suite('zoo', 'ReLU / Swish / ATAC in GluonCV\'s CIFAR networks (atac_gluon.convert)',
          _zoo(), 'val_acc',
          'CIFAR-10, the CIFAR recipe, with GluonCV\'s %s converted by train_cifar.py --model '
          'NAME: every ReLU replaced (ATAC: r=2, inner ReLU)' % ', '.join(ZOO_MODELS),
          report=ReportKind.MODELS),
))


def get_suite(name):
    """The suite called ``name``; BadInput listing the suites otherwise."""
    if name not in SUITES:
        raise BadInput('unknown suite %r; valid: %s' % (name, ', '.join(SUITES)))
    return SUITES[name]


def select_configurations(suite, patterns):
    """``suite`` with only the configurations whose names match one of the glob ``patterns``
    (``run --only``); all of them for none. BadInput when a pattern matches none."""
    if not patterns:
        return suite
    names = [config.name for config in suite.configurations]
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise BadInput('--only %s matches no run of %s; its runs: %s'
                           % (pattern, suite.name, ', '.join(names)))
    return suite.replace(configurations=[
        config for config in suite.configurations
        if any(fnmatch.fnmatchcase(config.name, p) for p in patterns)])


def select_scale(suite, name):
    """(``suite`` with the configurations of scale ``name``, its :class:`Scale`), or
    (``suite``, None) for the full scale (None or ``'full'``); BadInput naming the suite's
    scales otherwise."""
    if name in (None, FULL_SCALE):
        return suite, None
    scales = {scale.name: scale for scale in suite.scales}
    if name not in scales:
        raise BadInput('--scale %s: %s has %s' % (
            name, suite.name, 'the scales ' + ', '.join((FULL_SCALE,) + tuple(scales))
            if scales else 'no scale but the full one'))
    scale = scales[name]
    if scale.blocks is None:
        return suite, scale
    return suite.replace(configurations=[config for config in suite.configurations
                                         if config.labels.get('b') in scale.blocks]), scale


def _scaled_epochs(text, factor):
    return ','.join(str(max(1, int(round(int(e) * factor)))) for e in str(text).split(','))


def command_flags(config, save_dir, epochs=None, gpus=None, data_dir=None, smoke=None,
                  input_bn_from_data=False, fused_gates=False, distributed=False, scale=None):
    """The (flag, value) pairs of ``config`` for this invocation.

    Parameters
    ----------
    config : Configuration
    save_dir : str
        The configuration's save directory (``--save-dir``, and ``--save-plot-dir`` for CIFAR).
    epochs : int, optional
        Train this many epochs instead of the recipe's; the decay epochs (CIFAR) and warm-up
        epochs (ImageNet) scale with it, so the schedule keeps its shape.
    gpus : str, optional
        GPU ids (``0,1``): ``--gpus`` of CIFAR runs, their count ``--num-gpus`` of ImageNet runs.
    data_dir : str, optional
        CIFAR, Fashion-MNIST: ``--data-dir``; ImageNet: the folder holding
        ``rec/{train,val}.{rec,idx}`` (with ``--use-rec``) or ``train/`` and ``val/`` image
        folders.
    smoke : dict, optional
        The smoke scale (:func:`~atac_gluon.experiments.smoke.smoke_settings`): flag -> value
        overrides, and ``max_blocks``.
    input_bn_from_data : bool
        Add ``--input-bn-from-data`` to the CIFAR runs.
    fused_gates : bool
        Add ``--fused-gates`` to the runs it applies to: local ChaATAC units trained in
        float32 (the other runs keep MXNet's operators; the flag would refuse them).
    distributed : bool
        Add ``--kvstore dist_sync`` (the run is started by the launcher).
    scale : Scale, optional
        A smaller scale of the suite: its flags and epochs (``epochs`` still wins), and its
        ``fused_gates``.
    """
    flags = collections.OrderedDict(config.flags)
    recipe_epochs = int(flags['--num-epochs'])
    if scale is not None:
        flags.update(scale.flags)
        epochs = epochs or scale.epochs
        fused_gates = fused_gates or scale.fused_gates
    if epochs is not None:
        factor = epochs / float(recipe_epochs)
        flags['--num-epochs'] = epochs
        if '--lr-decay-epoch' in flags:
            flags['--lr-decay-epoch'] = _scaled_epochs(flags['--lr-decay-epoch'], factor)
        if '--warmup-epochs' in flags:
            flags['--warmup-epochs'] = int(round(int(flags['--warmup-epochs']) * factor))
    if gpus is not None:
        if config.script == 'cifar':
            flags['--gpus'] = gpus
        else:
            flags['--num-gpus'] = len([g for g in gpus.split(',') if g.strip()])
    if smoke:
        for flag, value in smoke[config.script].items():
            if value is False:
                flags.pop(flag, None)
            else:
                flags[flag] = value
        if '--blocks' in flags:
            flags['--blocks'] = min(int(flags['--blocks']), smoke['max_blocks'])
        data_dir = smoke['data_dir'].get(flags.get('--dataset'),
                                         smoke['data_dir'][config.script])
    if data_dir is not None:
        flags['--data-dir'] = data_dir
        if config.script == 'imagenet' and '--use-rec' in flags:
            for flag, name in (('--rec-train', 'train.rec'), ('--rec-train-idx', 'train.idx'),
                               ('--rec-val', 'val.rec'), ('--rec-val-idx', 'val.idx')):
                flags[flag] = '%s/rec/%s' % (data_dir.rstrip('/'), name)
    if input_bn_from_data and config.script == 'cifar':
        flags['--input-bn-from-data'] = None
    if (fused_gates and flags.get('--act-type', 'ChaATAC') == 'ChaATAC'
            and '--useGlobal' not in flags and flags.get('--dtype', 'float32') == 'float32'):
        flags['--fused-gates'] = None
    if distributed:
        flags['--kvstore'] = 'dist_sync'
    flags['--save-dir'] = save_dir
    if config.script == 'cifar':
        flags['--save-plot-dir'] = save_dir
    flags['--resume'] = None  # a finished epoch is never trained twice; a new run starts at 0
    return list(flags.items())
