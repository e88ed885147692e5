"""What a suite costs at full scale, in GPU-hours, from the official ImageNet log.

The official ATAC-ResNet-50 run trained at about 940 samples/s on 2 GPUs (float16). A run of
another network is assumed to go as fast in multiply-adds per second: its GPU-seconds are its
samples (training, plus validation at a third of the cost: forward only) times its FLOPs per
sample over the official run's multiply-adds per second per GPU. Small CIFAR networks keep a GPU
less busy than ResNet-50 does, so for them this is a lower bound. The ImageNet suite's figure is
the official log's own time, not an estimate."""
import functools

import mxnet as mx

from ..flops import count
from ..reference import official_imagenet_log
from .runner import parse_run

__all__ = ['run_flops', 'suite_gpu_hours', 'OFFICIAL_GPUS', 'TRAIN_SAMPLES']

OFFICIAL_GPUS = 2
#: training / validation images per epoch of the full data sets
TRAIN_SAMPLES = {'cifar': 50000, 'imagenet': 1281167}
VAL_SAMPLES = {'cifar': 10000, 'imagenet': 50000}


def run_flops(run):
    """Multiply-adds per image of ``run``'s network (Conv2D and Dense, as Table IV counts)."""
    return _flops(run.script, run.flags)


@functools.lru_cache(maxsize=None)  # runs of several suites share networks
def _flops(script, flags):
    opt, task = parse_run(script, flags)
    net = task.build_model(opt, task.default_classes(opt))
    net.initialize()
    return count(net, mx.nd.zeros(task.input_shape(opt)))[1]['flops']


def _official_rate():
    """(samples per second per GPU, training hours on all GPUs) of the official ImageNet log."""
    log = official_imagenet_log()
    per_gpu = sum(row['samples_per_sec'] for row in log) / len(log) / OFFICIAL_GPUS
    hours = sum(row['time'] for row in log) * OFFICIAL_GPUS / 3600.0
    return per_gpu, hours


def suite_gpu_hours(suite, epochs=None):
    """Expected GPU-hours of ``suite`` at full scale (``epochs``: instead of the recipe's)."""
    per_gpu, official_hours = _official_rate()
    reference = None
    total = 0.0
    for run in suite.runs:
        run_epochs = epochs or int(dict(run.flags)['--num-epochs'])
        if run.script == 'imagenet':
            total += official_hours * run_epochs / len(official_imagenet_log())
            continue
        if reference is None:
            reference = run_flops(_reference_run())
        samples = run_epochs * (TRAIN_SAMPLES[run.script] + VAL_SAMPLES[run.script] / 3.0)
        total += samples * run_flops(run) / (per_gpu * reference) / 3600.0
    return total


def _reference_run():
    from .suites import SUITES  # the imagenet suite's run is the official one
    return SUITES['imagenet'].runs[0]
