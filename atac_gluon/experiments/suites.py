"""The paper's experiments as suites of runs of the two training scripts.

A :class:`Run` is one training command at the paper's full scale: the official README recipe
plus the flags that make this configuration. :func:`command_flags` adapts it (``--epochs``,
``--gpus``, ``--data-dir``, smoke scale) without changing what the configuration is.
"""
import collections
import fnmatch

from ..errors import BadInput

__all__ = ['Run', 'Suite', 'SUITES', 'get_suite', 'select_runs', 'command_flags', 'CIFAR_RECIPE',
           'IMAGENET_RECIPE', 'SMOKE_MAX_BLOCKS', 'cifar_act_flags']

#: one run: ``name`` (its save directory under DIR/SUITE/), ``script`` ('cifar' or 'imagenet'),
#: ``flags`` (ordered (flag, value) pairs; value None for a switch), ``labels`` (what the report
#: groups by: dataset, variant, b, ...) and ``paper`` ((section of paper-results.md, column, row
#: key) of the paper's number, or None)
Run = collections.namedtuple('Run', 'name script flags labels paper')


class Suite(collections.namedtuple('Suite', 'name title runs metric description')):
    """A named list of runs; ``metric`` is the metrics.jsonl key compared with the paper
    (``val_acc``: higher is better, ``val_top1_err``: lower is better)."""

    @property
    def higher_is_better(self):
        return self.metric == 'val_acc'


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


def _cifar_run(name, dataset, blocks, act, labels, paper=None):
    flags = list(CIFAR_RECIPE) + [('--dataset', dataset), ('--blocks', blocks)] + act
    return Run(name, 'cifar', tuple(flags), dict(labels, dataset=dataset, b=blocks), paper)


def _fig7():
    variants = (('relu', 'ReLU', cifar_act_flags('relu')),
                ('selu', 'SELU', cifar_act_flags('selu')),
                ('swish', 'Swish', cifar_act_flags('swish')),
                ('atac', 'ATAC', cifar_act_flags('ChaATAC')))
    return [_cifar_run('%s-%s-b%d' % (dataset, key, b), dataset, b, act, {'variant': title},
                       ('CIFAR depth sweep', '%s %s' % (short, title), str(b)))
            for dataset, short in DATASETS for key, title, act in variants for b in DEPTHS]


def _fig8():
    variants = (('resnet', 'ResNet', cifar_act_flags('relu')),
                ('se', 'SE', cifar_act_flags('ChaATAC', use_global=True)),
                ('atac', 'ATAC', cifar_act_flags('ChaATAC')))
    return [_cifar_run('%s-%s-b%d' % (dataset, key, b), dataset, b, act, {'variant': title},
                       ('CIFAR comparison', '%s %s' % (short, title), str(b)))
            for dataset, short in DATASETS for key, title, act in variants for b in DEPTHS[:4]]


#: the ablations of one ATAC setting (ResNet-20: b=3, r=2, inner ReLU, local, all 4 stages):
#: (run name suffix, ablation, setting, flags). The first is the base every group compares to.
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
    return [_cifar_run('%s-%s' % (dataset, key), dataset, ABLATION_BLOCKS, act,
                       {'ablation': group, 'setting': setting, 'key': key})
            for dataset, _ in DATASETS for key, group, setting, act in ABLATIONS]


def _imagenet():
    return [Run('atac-resnet50', 'imagenet', IMAGENET_RECIPE, {'variant': 'ATAC-ResNet-50'},
                ('ImageNet', 'top-1 err', 'ATAC-ResNet-50'))]


SUITES = collections.OrderedDict((suite.name, suite) for suite in (
    Suite('fig7', 'Fig. 7: CIFAR depth sweep, ReLU / SELU / Swish / ATAC', _fig7(), 'val_acc',
          'CIFAR-10 and CIFAR-100, b = 1..5 blocks per stage, ATAC r=2 with the inner ReLU'),
    Suite('fig8', 'Fig. 8: ResNet / SE-style / ATAC', _fig8(), 'val_acc',
          'CIFAR-10 and CIFAR-100, b = 1..4; SE is ChaATAC with global pooling (useGlobal)'),
    Suite('ablations', 'Ablations of the ATAC unit (ResNet-20 ATAC)', _ablations(), 'val_acc',
          'r in 1, 2, 4, 8, 16; inner ReLU; local vs global; ATAC stages 1..4; the input '
          'BatchNorm statistics'),
    Suite('imagenet', 'Table IV: ATAC-ResNet-50 on ImageNet', _imagenet(), 'val_top1_err',
          'the README recipe: 160 epochs, 2 GPUs, float16, RecordIO'),
))


def get_suite(name):
    """The suite called ``name``; BadInput listing the suites otherwise."""
    if name not in SUITES:
        raise BadInput('unknown suite %r; valid: %s' % (name, ', '.join(SUITES)))
    return SUITES[name]


def select_runs(suite, patterns):
    """``suite`` with only the runs whose names match one of the glob ``patterns``
    (``run --only``); all of them for none. BadInput when a pattern matches no run."""
    if not patterns:
        return suite
    for pattern in patterns:
        if not fnmatch.filter([run.name for run in suite.runs], pattern):
            raise BadInput('--only %s matches no run of %s; its runs: %s'
                           % (pattern, suite.name, ', '.join(r.name for r in suite.runs)))
    return suite._replace(runs=[run for run in suite.runs
                                if any(fnmatch.fnmatchcase(run.name, p) for p in patterns)])


def _scaled_epochs(text, factor):
    return ','.join(str(max(1, int(round(int(e) * factor)))) for e in str(text).split(','))


def command_flags(run, save_dir, epochs=None, gpus=None, data_dir=None, smoke=None,
                  input_bn_from_data=False, fused_gates=False, distributed=False):
    """The (flag, value) pairs of ``run`` for this invocation.

    Parameters
    ----------
    run : Run
    save_dir : str
        The run's save directory (``--save-dir``, and ``--save-plot-dir`` for CIFAR).
    epochs : int, optional
        Train this many epochs instead of the recipe's; the decay epochs (CIFAR) and warm-up
        epochs (ImageNet) scale with it, so the schedule keeps its shape.
    gpus : str, optional
        GPU ids (``0,1``): ``--gpus`` of CIFAR runs, their count ``--num-gpus`` of ImageNet runs.
    data_dir : str, optional
        CIFAR: ``--data-dir``; ImageNet: the folder holding ``rec/{train,val}.{rec,idx}`` (with
        ``--use-rec``) or ``train/`` and ``val/`` image folders.
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
    """
    flags = collections.OrderedDict(run.flags)
    recipe_epochs = int(flags['--num-epochs'])
    if epochs is not None:
        factor = epochs / float(recipe_epochs)
        flags['--num-epochs'] = epochs
        if '--lr-decay-epoch' in flags:
            flags['--lr-decay-epoch'] = _scaled_epochs(flags['--lr-decay-epoch'], factor)
        if '--warmup-epochs' in flags:
            flags['--warmup-epochs'] = int(round(int(flags['--warmup-epochs']) * factor))
    if gpus is not None:
        if run.script == 'cifar':
            flags['--gpus'] = gpus
        else:
            flags['--num-gpus'] = len([g for g in gpus.split(',') if g.strip()])
    if smoke:
        for flag, value in smoke[run.script].items():
            if value is False:
                flags.pop(flag, None)
            else:
                flags[flag] = value
        if '--blocks' in flags:
            flags['--blocks'] = min(int(flags['--blocks']), smoke['max_blocks'])
        data_dir = smoke['data_dir'][run.script]
    if data_dir is not None:
        flags['--data-dir'] = data_dir
        if run.script == 'imagenet' and '--use-rec' in flags:
            for flag, name in (('--rec-train', 'train.rec'), ('--rec-train-idx', 'train.idx'),
                               ('--rec-val', 'val.rec'), ('--rec-val-idx', 'val.idx')):
                flags[flag] = '%s/rec/%s' % (data_dir.rstrip('/'), name)
    if input_bn_from_data and run.script == 'cifar':
        flags['--input-bn-from-data'] = None
    if (fused_gates and flags.get('--act-type', 'ChaATAC') == 'ChaATAC'
            and '--useGlobal' not in flags and flags.get('--dtype', 'float32') == 'float32'):
        flags['--fused-gates'] = None
    if distributed:
        flags['--kvstore'] = 'dist_sync'
    flags['--save-dir'] = save_dir
    if run.script == 'cifar':
        flags['--save-plot-dir'] = save_dir
    flags['--resume'] = None  # a finished epoch is never trained twice; a new run starts at 0
    return list(flags.items())
