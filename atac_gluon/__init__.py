"""atac-gluon: Attention as Activation (Dai et al., arXiv 2007.07729) in MXNet/Gluon.

Public names are imported on first use, so that ``atac_gluon.training.threads`` can set the
OpenMP thread count before anything imports mxnet. Importing the package installs
:mod:`atac_gluon.compat`'s hook first: MXNet and GluonCV then import on Python 3.9-3.13, NumPy 1
and 2, with PyTorch 2 beside them.
"""
import importlib

from . import compat

compat.install()

__version__ = '0.1.0'

_EXPORTS = {
    'activations': ('ACT_TYPES', 'SELU', 'ChaATAC', 'PReLU', 'create_act', 'set_fused_gates'),
    'models': ('GroupNorm', 'BasicBlockV1bATAC', 'BottleneckV1bATAC', 'ResBlockV2ATAC', 'ResNet20V2ATAC',
               'ResNet50_v1bATAC', 'from_gluoncv', 'get_cifar_resnet_atac', 'get_model',
               'get_resnet_v1b_atac', 'list_models', 'load_shared_parameters'),
    'flops': ('summary',),
    'conversion': ('convert',),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    value = getattr(importlib.import_module('.' + _WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
