"""The benchmark's network in PyTorch: the paper's pre-activation CIFAR ResNet with ChaATAC
(``cifar_resnet<6b+2>_v2_atac``, r=2, inner ReLU) for the PyTorch configurations, and the copy of
an MXNet network's weights into it (the forward passes then agree, see the tests).

The modules carry MXNet's structural names (``features.2.0.msAA1.module.1``...), so a parameter
name maps across by renaming BatchNorm's ``gamma``/``beta`` to ``weight``/``bias``. Imports torch
(not mxnet); :func:`copy_from_mxnet` takes the MXNet network as an argument.
"""
import torch
from torch import nn

__all__ = ['ChaATAC', 'ResBlockV2ATAC', 'CifarResNetV2ATAC', 'cifar_resnet_v2_atac',
           'trainable_parameter_count', 'copy_from_mxnet']

#: MXNet's BatchNorm defaults (momentum 0.9 of the running statistics is PyTorch's 0.1)
_BN = dict(eps=1e-5, momentum=0.1)


class ChaATAC(nn.Module):
    """``x * sigmoid(BN(conv1x1(ReLU(BN(conv1x1(x))))))``, channels -> channels // r ->
    channels, no convolution bias (MXNet's :class:`atac_gluon.ChaATAC` with useGlobal off)."""

    def __init__(self, channels, r=2, use_relu=True):
        super().__init__()
        inter = channels // r
        layers = [nn.Conv2d(channels, inter, 1, bias=False), nn.BatchNorm2d(inter, **_BN)]
        layers += [nn.ReLU(inplace=True)] if use_relu else []
        layers += [nn.Conv2d(inter, channels, 1, bias=False), nn.BatchNorm2d(channels, **_BN),
                   nn.Sigmoid()]
        self.module = nn.Sequential(*layers)

    def forward(self, x):
        return x * self.module(x)


def _act(act_type, channels, r, use_relu):
    if act_type == 'ChaATAC':
        return ChaATAC(channels, r, use_relu)
    if act_type == 'relu':
        return nn.ReLU()
    raise ValueError('act_type must be ChaATAC or relu, got %r' % act_type)


class ResBlockV2ATAC(nn.Module):
    """GluonCV's CIFARBasicBlockV2 with its two ReLUs replaced: bn1, msAA1, conv1, bn2, msAA2,
    conv2, plus the shortcut (a strided 1x1 convolution of the block input when it
    downsamples)."""

    def __init__(self, in_channels, channels, stride, act_type='ChaATAC', r=2, use_relu=True):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, **_BN)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, **_BN)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.downsample = (nn.Conv2d(in_channels, channels, 1, stride, bias=False)
                           if channels != in_channels else None)
        self.msAA1 = _act(act_type, in_channels, r, use_relu)
        self.msAA2 = _act(act_type, channels, r, use_relu)

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        x = self.conv1(self.msAA1(self.bn1(x)))
        x = self.conv2(self.msAA2(self.bn2(x)))
        return x + residual


class CifarResNetV2ATAC(nn.Module):
    """Input BatchNorm (no scale, no shift), 3x3 stem, three stages of ``blocks`` blocks
    (16/16/32/64 channels), BatchNorm, the final activation, global average pooling, dense."""

    def __init__(self, blocks=3, classes=10, act_type='ChaATAC', r=2, use_relu=True,
                 channels=(16, 16, 32, 64)):
        super().__init__()
        features = [nn.BatchNorm2d(3, affine=False, **_BN),
                    nn.Conv2d(3, channels[0], 3, 1, 1, bias=False)]
        in_channels = channels[0]
        for stage, width in enumerate(channels[1:]):
            layer = []
            for i in range(blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                layer.append(ResBlockV2ATAC(in_channels, width, stride, act_type, r, use_relu))
                in_channels = width
            features.append(nn.Sequential(*layer))
        features += [nn.BatchNorm2d(in_channels, **_BN), _act(act_type, in_channels, r, use_relu),
                     nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*features)
        self.output = nn.Linear(in_channels, classes)
        for m in self.modules():  # MXNet's MSRAPrelu is He initialisation (fan in, a=0.25)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.25, mode='fan_in')

    def forward(self, x):
        return self.output(self.features(x))


def cifar_resnet_v2_atac(blocks=3, classes=10, act_type='ChaATAC', r=2, use_relu=True):
    """The PyTorch twin of ``get_cifar_resnet_atac(blocks, classes, act_type, r, useReLU)``."""
    return CifarResNetV2ATAC(blocks, classes, act_type, r, use_relu)


def trainable_parameter_count(model):
    """Number of trainable parameter values (MXNet's count of ``grad_req != 'null'``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


_RENAME = {'gamma': 'weight', 'beta': 'bias'}


def copy_from_mxnet(model, net):
    """Copy every parameter and running statistic of the initialised MXNet network ``net`` (of
    :func:`atac_gluon.models.get_cifar_resnet_atac`, shapes known) into ``model``.

    The input BatchNorm's fixed ``gamma`` (1) and ``beta`` (0) have no PyTorch counterpart
    (``affine=False``) and are checked, not copied.

    Raises
    ------
    ValueError
        A parameter missing on either side, a shape that differs, or a fixed input-BatchNorm
        scale/shift other than 1/0.
    """
    state = model.state_dict()
    copied = set()
    for name, param in net._collect_params_with_prefix().items():
        value = param.data().asnumpy()
        head, _, leaf = name.rpartition('.')
        target = '%s.%s' % (head, _RENAME.get(leaf, leaf))
        if target not in state:
            fixed = {'gamma': 1.0, 'beta': 0.0}.get(leaf)
            if fixed is not None and param.grad_req == 'null' and (value == fixed).all():
                continue
            raise ValueError('MXNet parameter %s has no PyTorch counterpart %s' % (name, target))
        if tuple(state[target].shape) != value.shape:
            raise ValueError('%s: MXNet shape %s, PyTorch shape %s'
                             % (name, value.shape, tuple(state[target].shape)))
        state[target] = torch.from_numpy(value.copy()).to(state[target].dtype)
        copied.add(target)
    missing = [k for k in state if k not in copied and not k.endswith('num_batches_tracked')]
    if missing:
        raise ValueError('PyTorch parameters without an MXNet value: %s' % ', '.join(missing))
    model.load_state_dict(state)
    return model
