"""Turning GluonCV model-zoo ResNets into their ATAC versions."""
import os
import tempfile

from mxnet.gluon import nn
from gluoncv.model_zoo.cifarresnet import CIFARResNetV2
from gluoncv.model_zoo.resnetv1b import BasicBlockV1b, BottleneckV1b, ResNetV1b

from .cifar import ResNet20V2ATAC
from .imagenet import BasicBlockV1bATAC, BottleneckV1bATAC, ResNet50_v1bATAC

__all__ = ['from_gluoncv']

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
        raise ValueError('cannot convert ResNetV1b with block %s' % block.__name__)
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


def from_gluoncv(net, act_type='ChaATAC', r=2, useReLU=True, useGlobal=False, act_layers=None,
                 copy_params=True):
    r"""The ATAC version of a GluonCV ResNet (``ResNetV1b`` family or ``CIFARResNetV2``).

    The architecture (depth, widths, classes, stem, downsampling, dilation) is read off ``net``;
    when ``net`` is initialized and ``copy_params``, its parameters are copied (the names are a
    subset of the ATAC model's) and only the new activation units remain to be initialized.

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
        raise ValueError('from_gluoncv converts ResNetV1b and CIFARResNetV2 models, got %s'
                         % type(net).__name__)
    params = net.collect_params()
    if copy_params and all(p._data is not None for p in params.values()):
        ctx = list(params.values())[0].list_ctx()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'gluoncv.params')
            net.save_parameters(path)
            atac.load_parameters(path, ctx=ctx, allow_missing=True)
    return atac
