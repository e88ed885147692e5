"""Turning GluonCV model-zoo ResNets into their ATAC versions."""
import os
import tempfile
from typing import Optional

import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock
from gluoncv.model_zoo.cifarresnet import CIFARResNetV2
from gluoncv.model_zoo.resnetv1b import BasicBlockV1b, BottleneckV1b, ResNetV1b

from ..errors import BadInput
from ..onednn import settle_weights
from .cifar import ResNet20V2ATAC
from .imagenet import BasicBlockV1bATAC, BottleneckV1bATAC, ResNet50_v1bATAC
from .params import read_parameters

__all__ = ['from_gluoncv', 'load_shared_parameters']

_V1B_BLOCKS = {BasicBlockV1b: BasicBlockV1bATAC, BottleneckV1b: BottleneckV1bATAC}


def _cifar_v2_atac(net, act_type, r, useReLU, useGlobal, act_layers):
    stages = list(net.features)[2:-4]  # between the stem conv and the final BN
    channels = [net.features[1]._channels] + [stage[0].conv1._channels for stage in stages]
    return ResNet20V2ATAC(layers=[len(stage) for stage in stages], channels=channels,
                          classes=net.output._units, act_type=act_type, r=r, skernel=3,
                          dilation=1, useReLU=useReLU, useGlobal=useGlobal,
                          act_layers=4 if act_layers is None else act_layers,
                          replace_act='relu', act_order='bac', asBackbone=False)


def _v1b_atac(net, act_type, r, useReLU, useGlobal, act_layers):
    stages = [net.layer1, net.layer2, net.layer3, net.layer4]
    block = type(stages[0][0])
    if block not in _V1B_BLOCKS:
        raise BadInput('cannot convert ResNetV1b with block %s' % block.__name__)
    deep_stem = isinstance(net.conv1, nn.HybridSequential)
    down = stages[0][0].downsample or stages[1][0].downsample
    dilation = stages[2][-1].conv2._kwargs['dilate']
    return ResNet50_v1bATAC(
        act_type, r, 2 if act_layers is None else act_layers, [len(s) for s in stages],
        classes=net.fc._units, dilated=tuple(dilation) != (1, 1),
        norm_kwargs=dict(net.norm_kwargs), deep_stem=deep_stem,
        stem_width=net.conv1[0]._channels if deep_stem else 32,
        avg_down=isinstance(down[0], nn.AvgPool2D),
        final_drop=net.drop._rate if net.drop is not None else 0.0,
        last_gamma=block is BottleneckV1b and stages[0][0].bn3.gamma.init == 'zeros',
        name_prefix=net.prefix, block=_V1B_BLOCKS[block], useReLU=useReLU, useGlobal=useGlobal)


def from_gluoncv(net: HybridBlock, act_type: str = 'ChaATAC', r: int = 2, useReLU: bool = True,
                 useGlobal: bool = False, act_layers: Optional[int] = None,
                 copy_params: bool = True) -> HybridBlock:
    r"""The ATAC version of a GluonCV ResNet (``ResNetV1b`` family or ``CIFARResNetV2``).

    The architecture (depth, widths, classes, stem, downsampling, dilation) is read off ``net``;
    when ``net`` is initialized and ``copy_params``, its parameters are copied (the names are a
    subset of the ATAC model's) and only the new activation units remain to be initialized:
    ``initialize()`` then initializes just those. A ``net`` initialized but never run (shapes
    still deferred) cannot be copied: BadInput (run it once on an input first).

    Parameters
    ----------
    net : HybridBlock
        e.g. ``gluoncv.model_zoo.get_model('resnet50_v1b')`` or ``'cifar_resnet20_v2'``.
    act_type, r, useReLU, useGlobal : see :func:`atac_gluon.create_act`.
    act_layers : int, optional
        Stages with ``act_type``; defaults to the paper's choice (2 for ImageNet ResNets,
        4 = everywhere for the CIFAR host).
    copy_params : bool
        Copy the initialized parameters of ``net``.
    """
    if isinstance(net, CIFARResNetV2):
        atac = _cifar_v2_atac(net, act_type, r, useReLU, useGlobal, act_layers)
    elif isinstance(net, ResNetV1b):
        atac = _v1b_atac(net, act_type, r, useReLU, useGlobal, act_layers)
    else:
        raise BadInput('from_gluoncv converts ResNetV1b and CIFARResNetV2 models, got %s'
                         % type(net).__name__)
    params = list(net.collect_params().values())
    # pylint: disable=protected-access
    if copy_params and any(p._data is not None or p._deferred_init for p in params):
        pending = [p.name for p in params if p._data is None]
        if pending:
            raise BadInput('from_gluoncv: %d of the %d parameters of %s (e.g. %s) have no values '
                           'yet (initialized but never run, so their shapes are unknown): run '
                           'the network once on an input batch before converting it, or pass '
                           'copy_params=False' % (len(pending), len(params), type(net).__name__,
                                                  pending[0]))
        ctx = params[0].list_ctx()
        settle_weights()  # a forward pass may still be reordering a weight in place
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'gluoncv.params')
            net.save_parameters(path)
            atac.load_parameters(path, ctx=ctx, allow_missing=True)
    return atac


def load_shared_parameters(net: HybridBlock, path: str, what: Optional[str] = None) -> dict:
    r"""Copy the parameters of a checkpoint into the layers of ``net`` that have the same
    structural name and shape; leave the others (ATAC units, a classifier of another size) as
    they are. Parameters still uninitialized (or with deferred shapes) take the file's values.

    Parameters
    ----------
    net : Block
        Target network, e.g. an ATAC ResNet.
    path : str
        A ``save_parameters`` file, e.g. GluonCV's ``resnet50_v1b`` weights.
    what : str, optional
        How errors name the file (e.g. ``--pretrained-params x.params``); default ``path``.

    Returns
    -------
    dict
        ``loaded``, ``skipped`` (same name, other shape) and ``missing`` (not in the file) names.
    """
    what = what or path
    saved = read_parameters(path, what)
    saved = {k.split(':', 1)[-1]: v for k, v in saved.items()}  # 'arg:'/'aux:' of exports
    report = {'loaded': [], 'skipped': [], 'missing': []}
    for name, param in net._collect_params_with_prefix().items():
        if name not in saved:
            report['missing'].append(name)
        elif _same_shape(param.shape, saved[name].shape):
            report['loaded'].append(name)
        else:
            report['skipped'].append(name)
    if not report['loaded']:
        raise BadInput('%s: no parameter matches the network (another architecture?)' % what)
    # load_parameters does the rest right (deferred shapes, contexts), given only what fits
    with tempfile.TemporaryDirectory() as tmp:
        matching = os.path.join(tmp, 'matching.params')
        mx.nd.save(matching, {name: saved[name] for name in report['loaded']})
        net.load_parameters(matching, allow_missing=True, ignore_extra=True,
                            ctx=_contexts(net))
    return report


def _contexts(net):
    """Contexts the parameters of ``net`` live (or will live) on; None if not initialized."""
    try:
        return next(iter(net.collect_params().values())).list_ctx()
    except RuntimeError:
        return None


def _same_shape(declared, saved):
    """Whether ``saved`` fits ``declared``, whose unknown dimensions are 0."""
    return len(declared) == len(saved) and all(d in (0, s) for d, s in zip(declared, saved))
