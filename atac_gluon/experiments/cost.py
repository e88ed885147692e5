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
from .train import parse_training_flags

__all__ = ['configuration_flops', 'suite_gpu_hours', 'OFFICIAL_GPUS', 'TRAIN_SAMPLES']

OFFICIAL_GPUS = 2
#: training / validation images per epoch of the full data sets, by script, and by
#: ``--dataset`` where a script's data sets differ in size
TRAIN_SAMPLES = {'cifar': 50000, 'imagenet': 1281167, 'fashion-mnist': 60000}
VAL_SAMPLES = {'cifar': 10000, 'imagenet': 50000, 'fashion-mnist': 10000}


def configuration_flops(config):
    """Multiply-adds per image of ``config``'s network (Conv2D and Dense, as Table IV counts)."""
    return _flops(config.script, config.flags)


@functools.lru_cache(maxsize=None)  # configurations of several suites share networks
def _flops(script, flags):
    _, spec = parse_training_flags(script, flags)
    net = spec.model.build()
    net.initialize()
    return count(net, mx.nd.zeros(spec.model.input_shape))[1]['flops']


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
    for config in suite.configurations:
        config_epochs = epochs or int(dict(config.flags)['--num-epochs'])
        if config.script == 'imagenet':
            total += official_hours * config_epochs / len(official_imagenet_log())
            continue
        if reference is None:
            reference = configuration_flops(_reference_configuration())
        data = dict(config.flags).get('--dataset')
        data = data if data in TRAIN_SAMPLES else config.script
        per_epoch = TRAIN_SAMPLES[data] + VAL_SAMPLES[data] / 3.0
        samples = config_epochs * per_epoch
        total += samples * configuration_flops(config) / (per_gpu * reference) / 3600.0
    return total


def _reference_configuration():
    from .suites import SUITES  # the imagenet suite's configuration is the official run's
    return SUITES['imagenet'].configurations[0]
