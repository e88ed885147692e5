"""What the benchmark measures: one spec (a dict) per measurement, grouped by the worker process
that runs it. Pure Python (no mxnet, no torch), so the command line can list and filter the plan
before any framework loads.

A spec's ``key`` (``framework/config/mode/model[/act_type]/bBATCH[@SIZE]``) identifies it; a
measurement wanted by two sections (ResNet-20 fp32-hybrid is both the main configuration and
b=3 of the depth scaling) is planned once and listed in both ``sections``.
"""
import fnmatch

__all__ = ['GROUPS', 'SECTIONS', 'MAIN_MODEL', 'Settings', 'build_plan', 'select', 'spec_key',
           'cifar_model', 'R50_MODEL', 'BOUND_CONFIGS', 'E2E_CONFIGS']

MAIN_MODEL = 'cifar_resnet20_v2_atac'
R50_MODEL = 'resnet50_v1b_atac'

#: worker processes in the order they run; AMP last, since ``amp.init`` patches MXNet for the
#: whole process (it runs in its own process anyway)
GROUPS = ('mxnet', 'mxnet-quantized', 'torch', 'torch-compile', 'end-to-end', 'mxnet-amp')

#: section -> what it is, for --configs and --list
SECTIONS = {
    'mxnet': 'MXNet fp32 ResNet-20 ATAC, hybridized (static_alloc/static_shape) and '
             'imperative, and hybridized with fused gates (atac_gluon.ops atac_gate)',
    'quantized': 'MXNet inference through atac_gluon.quantization.quantize_model: fp32 (oneDNN '
                 'fused), int8 (calibrated), int8 with fused ATAC gates (atac_gluon.ops), bf16',
    'amp': 'MXNet AMP bfloat16 (mx.contrib.amp.init before the network is built, own '
           'process; the ATAC product kept float32)',
    'end-to-end': 'a real `python -m atac_gluon.train_cifar` run (digits data, data pipeline '
                  'included), without and with --fused-gates: samples_per_sec of its last '
                  'epoch',
    'torch': 'PyTorch twin of ResNet-20 ATAC: eager fp32, channels_last, bf16 autocast',
    'torch-compile': 'PyTorch torch.compile (inductor) fp32',
    'scaling': 'MXNet fp32-hybrid ResNet ATAC of b = 1..5 blocks per stage (depth 8..32)',
    'relu': 'the same hosts with act_type=relu, for the ATAC/ReLU cost ratio',
    'resnet50': 'MXNet fp32-hybrid ResNet-50 v1b ATAC (r=2, act_layers=2) at 224x224',
    'bound': 'an upper bound on MXNet training: ResNet-20 ATAC reduced to its convolutions '
             '(atac_gluon.benchmark.bound), fp32 and AMP bfloat16; not a usable network',
}

MXNET_CONFIGS = ('fp32-hybrid', 'fp32-imperative', 'fp32-hybrid-fused')
QUANTIZED_CONFIGS = ('quantized-fp32', 'quantized-int8', 'quantized-int8-fused',
                     'quantized-bf16')
TORCH_CONFIGS = ('fp32-eager', 'fp32-channels_last', 'bf16-autocast',
                 'bf16-autocast-channels_last')
TORCH_COMPILE_CONFIGS = ('fp32-compile',)
AMP_CONFIG = 'amp-bf16-hybrid'
#: the convolutions-only bound, fp32 (group mxnet) and under AMP (group mxnet-amp)
BOUND_CONFIG = 'convolutions-only-fp32'
AMP_BOUND_CONFIG = 'convolutions-only-amp-bf16'
BOUND_CONFIGS = (BOUND_CONFIG, AMP_BOUND_CONFIG)
E2E_CONFIG = 'train_cifar-hybrid'
E2E_FUSED_CONFIG = 'train_cifar-hybrid-fused'  # --fused-gates
E2E_CONFIGS = (E2E_CONFIG, E2E_FUSED_CONFIG)
BLOCKS = (1, 2, 3, 4, 5)
MODES = ('train', 'inference')


def cifar_model(blocks):
    return 'cifar_resnet%d_v2_atac' % (6 * blocks + 2)


class Settings:
    """The sizes of a run: batch, warm-up and timed iterations, ResNet-50's batches and input
    size, the end-to-end run's epochs and model; ``quick`` shrinks them for tests."""

    def __init__(self, quick=False, batch_size=None, iterations=None, warmup=None):
        self.quick = quick
        self.batch_size = batch_size or (16 if quick else 128)
        self.iterations = iterations or (2 if quick else 10)
        self.warmup = warmup if warmup is not None else (1 if quick else 3)
        # depth scaling and the ReLU hosts: b = 1..5; --quick b = 1 and 3 (the same code)
        self.blocks = (1, 3) if quick else BLOCKS
        # ResNet-50 at 224 is slow on a few cores: few iterations; --quick: batch 2 at 64x64
        self.r50_batches = (2,) if quick else (8, 32)
        self.r50_size = 64 if quick else 224
        self.r50_iterations = 1 if quick else min(self.iterations, 3)
        self.r50_warmup = 1
        # train_cifar's digits split has 1437 training images; --quick trains ResNet-8 for one
        # epoch at batch 64, else ResNet-20 for three epochs (the last one, warm, is reported)
        self.e2e_blocks = 1 if quick else 3
        self.e2e_epochs = 1 if quick else 3
        self.e2e_batch = 64 if quick else self.batch_size
        # int8: --quick calibrates with min/max on one batch (entropy takes a minute)
        self.calib_batches = 1 if quick else 4
        self.calib_mode = 'naive' if quick else 'entropy'

    def as_dict(self):
        return {'quick': self.quick, 'batch_size': self.batch_size,
                'iterations': self.iterations, 'warmup': self.warmup,
                'resnet50': {'batches': list(self.r50_batches), 'image_size': self.r50_size,
                             'iterations': self.r50_iterations, 'warmup': self.r50_warmup},
                'end_to_end': {'model': cifar_model(self.e2e_blocks), 'epochs': self.e2e_epochs,
                               'batch': self.e2e_batch, 'dataset': 'digits',
                               'data_workers': 2},
                'calibration': {'batches': self.calib_batches, 'mode': self.calib_mode},
                'blocks': list(self.blocks)}


def spec_key(spec):
    act = '' if spec['act_type'] == 'ChaATAC' else '/' + spec['act_type']
    size = '' if spec['image_size'] == 32 else '@%d' % spec['image_size']
    return '%s/%s/%s/%s%s/b%d%s' % (spec['framework'], spec['config'], spec['mode'],
                                    spec['model'], act, spec['batch'], size)


def build_plan(settings):
    """Every measurement of a run with ``settings``, in run order, deduplicated by key."""
    s = settings
    specs, by_key = [], {}

    def add(section, group, framework, config, mode, model, batch=None, act_type='ChaATAC',
            image_size=32, warmup=None, iterations=None, classes=10, **extra):
        spec = dict(framework=framework, config=config, mode=mode, model=model,
                    act_type=act_type, batch=batch or s.batch_size, image_size=image_size,
                    classes=classes, group=group,
                    warmup=s.warmup if warmup is None else warmup,
                    iterations=iterations or s.iterations, **extra)
        spec['key'] = spec_key(spec)
        if spec['key'] in by_key:
            by_key[spec['key']]['sections'].append(section)
            return
        spec['sections'] = [section]
        by_key[spec['key']] = spec
        specs.append(spec)

    for config in MXNET_CONFIGS:
        for mode in MODES:
            add('mxnet', 'mxnet', 'mxnet', config, mode, MAIN_MODEL)
    for act_type, section in (('ChaATAC', 'scaling'), ('relu', 'relu')):
        for blocks in s.blocks:
            for mode in MODES:
                add(section, 'mxnet', 'mxnet', 'fp32-hybrid', mode, cifar_model(blocks),
                    act_type=act_type, blocks=blocks)
    for batch in s.r50_batches:
        for act_type in ('ChaATAC', 'relu'):
            for mode in MODES:
                add('resnet50', 'mxnet', 'mxnet', 'fp32-hybrid', mode, R50_MODEL, batch,
                    act_type=act_type, image_size=s.r50_size, warmup=s.r50_warmup,
                    iterations=s.r50_iterations, classes=1000)
    for config in QUANTIZED_CONFIGS:
        add('quantized', 'mxnet-quantized', 'mxnet', config, 'inference', MAIN_MODEL,
            calib_batches=s.calib_batches, calib_mode=s.calib_mode)
    for config in TORCH_CONFIGS:
        for mode in MODES:
            add('torch', 'torch', 'torch', config, mode, MAIN_MODEL)
    for config in TORCH_COMPILE_CONFIGS:
        for mode in MODES:
            add('torch-compile', 'torch-compile', 'torch', config, mode, MAIN_MODEL,
                skip='skipped by --quick (inductor compiles C++ for minutes)'
                if s.quick else None)
    for config in E2E_CONFIGS:
        add('end-to-end', 'end-to-end', 'mxnet', config, 'train', cifar_model(s.e2e_blocks),
            s.e2e_batch, blocks=s.e2e_blocks, epochs=s.e2e_epochs, warmup=s.e2e_epochs - 1,
            iterations=1)
    add('bound', 'mxnet', 'mxnet', BOUND_CONFIG, 'train', MAIN_MODEL)
    for mode in MODES:
        add('amp', 'mxnet-amp', 'mxnet', AMP_CONFIG, mode, MAIN_MODEL)
    add('bound', 'mxnet-amp', 'mxnet', AMP_BOUND_CONFIG, 'train', MAIN_MODEL)
    return specs


def _names(spec):
    return set(spec['sections']) | {spec['config'], spec['framework'], spec['key'],
                                     '%s/%s' % (spec['framework'], spec['config']),
                                     spec['model'], spec['group']}


def select(specs, patterns):
    """The specs any of the glob ``patterns`` matches: a section (mxnet, quantized, amp,
    end-to-end, torch, torch-compile, scaling, relu, resnet50, bound), a config (``fp32-hybrid``),
    ``framework/config`` (``torch/bf16-*``), a model name or a key; all for no patterns."""
    if not patterns:
        return list(specs)
    return [spec for spec in specs
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns
                   for name in _names(spec))]
