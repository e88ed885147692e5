"""ResNet-v1b with ATAC (ResNet50_v1bATAC), built on GluonCV's ResNetV1b.

ATAC replaces the pre-addition activations (``relu1``, ``relu2`` of a bottleneck, ``relu1`` of a
basic block) in the last ``act_layers`` stages; the post-addition ReLU stays. Structural parameter
names are the official ones (``layer3.0.relu1.module.0.weight`` ...), and GluonCV ``resnet*_v1b``
checkpoints are a subset of them.

The structure follows the CIFAR family's (see ``cifar.py``): activations from the one
:func:`~atac_gluon.create_act` table; block and host subclass GluonCV's and override only what
differs (the blocks swap their activation children, :func:`replace_activation`; the host gives
each stage its block through ``_make_layer``), pinned by the golden-layout test; one explicit
registered function per name at the end, :func:`get_resnet_v1b_atac` for the family.
"""
import functools

from mxnet.gluon.nn import BatchNorm
from gluoncv.model_zoo.resnetv1b import BasicBlockV1b, BottleneckV1b, ResNetV1b

from ..activations import check_act_type, check_count, create_act
from ..errors import BadInput
from .params import InitializeMissing
from .registry import ModelFamily, refuse_pretrained

__all__ = ['BasicBlockV1bATAC', 'BottleneckV1bATAC', 'ResNet50_v1bATAC', 'get_resnet_v1b_atac',
           'MAX_ACT_LAYERS']

#: act_layers of the four-stage host: 0 (none) to 4 (every stage)
MAX_ACT_LAYERS = 4


def replace_activation(block, name, act_type, channels, r, useReLU, useGlobal):
    """Put the ``act_type`` activation in place of ``block``'s activation child ``name``.

    The structural name (``relu1``) and the place among the children stay; ``'relu'`` keeps
    GluonCV's own ReLU. Gluon's ``Block.__setattr__`` refuses to change a child's type
    ("Changing attribute type for relu1 from <class '...Activation'> to <class '...ChaATAC'>is
    not allowed."), so the attribute is deleted first: the assignment then registers the new
    block under the same key of ``_children`` (an OrderedDict, which keeps the key's position).
    """
    if act_type == 'relu':
        return
    delattr(block, name)
    setattr(block, name, create_act(act_type, channels, r, useReLU, useGlobal))


class BasicBlockV1bATAC(BasicBlockV1b):
    r"""GluonCV's ResNet-v1b basic block with ``relu1`` (after ``bn1``) built from ``act_type``.

    GluonCV builds the block and runs it; only ``relu1`` is replaced (see
    :func:`replace_activation`), ``relu2`` after the addition stays ReLU.

    Parameters
    ----------
    act_type : str
        Activation after ``bn1``; see :func:`atac_gluon.create_act`.
    r : int
        ChaATAC reduction ratio.
    planes : int
        Output channels.
    strides, dilation, downsample, previous_dilation, norm_layer, norm_kwargs
        As in GluonCV's ``BasicBlockV1b``.
    useReLU, useGlobal : bool
        ChaATAC switches (official: inner ReLU, local).
    """

    def __init__(self, act_type, r, planes, strides=1, dilation=1, downsample=None,
                 previous_dilation=1, norm_layer=BatchNorm, norm_kwargs=None, useReLU=True,
                 useGlobal=False, **kwargs):
        super().__init__(
            planes, strides=strides, dilation=dilation, downsample=downsample,
            previous_dilation=previous_dilation, norm_layer=norm_layer, norm_kwargs=norm_kwargs,
            **kwargs)
        replace_activation(self, 'relu1', act_type, planes, r, useReLU, useGlobal)


class BottleneckV1bATAC(BottleneckV1b):
    r"""GluonCV's ResNet-v1b bottleneck with ``relu1`` and ``relu2`` built from ``act_type``.

    GluonCV builds the block and runs it; only ``relu1`` and ``relu2`` are replaced (see
    :func:`replace_activation`), ``relu3`` after the addition stays ReLU.

    Parameters
    ----------
    act_type : str
        Activation after ``bn1`` and ``bn2``; see :func:`atac_gluon.create_act`.
    r : int
        ChaATAC reduction ratio.
    planes : int
        Bottleneck channels (output is ``4 * planes``).
    strides, dilation, downsample, previous_dilation, norm_layer, norm_kwargs, last_gamma
        As in GluonCV's ``BottleneckV1b``.
    useReLU, useGlobal : bool
        ChaATAC switches (official: inner ReLU, local).
    """

    def __init__(self, act_type, r, planes, strides=1, dilation=1, downsample=None,
                 previous_dilation=1, norm_layer=BatchNorm, norm_kwargs=None, last_gamma=False,
                 useReLU=True, useGlobal=False, **kwargs):
        super().__init__(
            planes, strides=strides, dilation=dilation, downsample=downsample,
            previous_dilation=previous_dilation, norm_layer=norm_layer, norm_kwargs=norm_kwargs,
            last_gamma=last_gamma, **kwargs)
        for name in ('relu1', 'relu2'):
            replace_activation(self, name, act_type, planes, r, useReLU, useGlobal)


class ResNet50_v1bATAC(InitializeMissing, ResNetV1b):
    r"""ResNet-v1b (GluonCV) whose last ``act_layers`` stages use ``act_type`` blocks.

    The official class name is kept although ``layers`` and ``block`` give any depth.

    Parameters
    ----------
    act_type : str
        Activation of the chosen stages (``'ChaATAC'`` in the paper); the others keep ReLU.
    r : int
        ChaATAC reduction ratio.
    act_layers : int
        Number of stages, counted from the last, that get ``act_type``, 0 to 4 (paper: 2).
    layers : list of int
        Blocks per stage, e.g. ``[3, 4, 6, 3]``.
    classes : int, default 1000
        Number of classes.
    dilated, norm_layer, norm_kwargs, last_gamma, deep_stem, stem_width, avg_down, final_drop,
    use_global_stats, name_prefix
        As in GluonCV's ``ResNetV1b``.
    block : class, default BottleneckV1bATAC
        Residual block (``BasicBlockV1bATAC`` for ResNet-18/34).
    useReLU, useGlobal : bool
        ChaATAC switches; the official ImageNet model uses the defaults (inner ReLU, local).
    """

    def __init__(self, act_type, r, act_layers, layers, classes=1000, dilated=False,
                 norm_layer=BatchNorm, norm_kwargs=None, last_gamma=False, deep_stem=False,
                 stem_width=32, avg_down=False, final_drop=0.0, use_global_stats=False,
                 name_prefix='', block=None, useReLU=True, useGlobal=False, **kwargs):
        check_act_type(act_type)
        if len(layers) != 4:
            raise BadInput('layers must list 4 stages, got %r' % (list(layers),))
        for blocks in layers:  # GluonCV builds one block for 0 or -1
            check_count('blocks per stage', blocks)
        check_count('classes', classes)
        check_count('act_layers', act_layers, 0)  # beyond the stages: all of them
        if kwargs:  # GluonCV's ResNetV1b drops them: a misspelt argument would change nothing
            raise TypeError('ResNet50_v1bATAC got unexpected keyword argument(s) %s'
                            % ', '.join(sorted(kwargs)))
        block = BottleneckV1bATAC if block is None else block
        # the official rule: stage s (0-based) gets act_type when act_layers >= len(layers) - s
        self.act_types = [act_type if act_layers >= len(layers) - s else 'relu'
                          for s in range(len(layers))]
        self._stage_blocks = [self._block_factory(block, stage_act, r, useReLU, useGlobal)
                              for stage_act in self.act_types]
        super().__init__(
            block, layers, classes=classes, dilated=dilated, norm_layer=norm_layer,
            norm_kwargs=norm_kwargs, last_gamma=last_gamma, deep_stem=deep_stem,
            stem_width=stem_width, avg_down=avg_down, final_drop=final_drop,
            use_global_stats=use_global_stats, name_prefix=name_prefix, **kwargs)

    @staticmethod
    def _block_factory(block, act_type, r, useReLU, useGlobal):
        make = functools.partial(block, act_type, r, useReLU=useReLU, useGlobal=useGlobal)
        make.expansion = block.expansion  # GluonCV's _make_layer reads it
        return make

    def _make_layer(self, stage_index, block, planes, blocks, **kwargs):
        return super()._make_layer(
            stage_index, self._stage_blocks[stage_index - 1], planes, blocks, **kwargs)


#: depth -> (block, blocks per stage): GluonCV's ResNet-v1b spec, of every registered name
_DEPTHS = {18: (BasicBlockV1bATAC, [2, 2, 2, 2]), 34: (BasicBlockV1bATAC, [3, 4, 6, 3]),
           50: (BottleneckV1bATAC, [3, 4, 6, 3]), 101: (BottleneckV1bATAC, [3, 4, 23, 3]),
           152: (BottleneckV1bATAC, [3, 8, 36, 3])}


#: the family's attributes, given to :func:`get_resnet_v1b_atac` and every registered name
imagenet_family = ModelFamily(input_shape=(1, 3, 224, 224), dataset='imagenet',
                              max_act_layers=MAX_ACT_LAYERS)


@imagenet_family
def get_resnet_v1b_atac(depth: int, act_type: str = 'ChaATAC', r: int = 2, act_layers: int = 2,
                        classes: int = 1000, pretrained: bool = False,
                        **kwargs) -> ResNet50_v1bATAC:
    r"""ResNet-v1b of ``depth`` layers with ATAC in the last ``act_layers`` stages.

    Parameters
    ----------
    depth : int
        18, 34, 50, 101 or 152.
    act_type, r, act_layers, classes
        See :class:`ResNet50_v1bATAC`; the defaults are the README's ImageNet command.
    pretrained : bool
        Must be False: no pretrained ATAC weights are published (BadInput otherwise).
    **kwargs
        Further :class:`ResNet50_v1bATAC` arguments (last_gamma, dilated, norm_layer, ...).
    """
    if depth not in _DEPTHS:
        raise BadInput('unknown depth %r; valid: %s' % (depth, ', '.join(map(str, _DEPTHS))))
    refuse_pretrained(pretrained, 'resnet%d_v1b_atac' % depth)
    block, layers = _DEPTHS[depth]
    kwargs.setdefault('name_prefix', 'resnetv1b_')
    return ResNet50_v1bATAC(act_type, r, act_layers, layers, classes=classes, block=block,
                            **kwargs)


# The registered names, one explicit function each (GluonCV/timm style), GluonCV's depths.
# imagenet_family.variant adds the shared Parameters section to each docstring.
@imagenet_family.variant
def resnet18_v1b_atac(pretrained: bool = False, classes: int = 1000, **kwargs) -> ResNet50_v1bATAC:
    """ResNet-18 v1b (basic blocks, [2, 2, 2, 2]) with ATAC in the last stages."""
    return get_resnet_v1b_atac(18, classes=classes, pretrained=pretrained, **kwargs)


@imagenet_family.variant
def resnet34_v1b_atac(pretrained: bool = False, classes: int = 1000, **kwargs) -> ResNet50_v1bATAC:
    """ResNet-34 v1b (basic blocks, [3, 4, 6, 3]) with ATAC in the last stages."""
    return get_resnet_v1b_atac(34, classes=classes, pretrained=pretrained, **kwargs)


@imagenet_family.variant
def resnet50_v1b_atac(pretrained: bool = False, classes: int = 1000, **kwargs) -> ResNet50_v1bATAC:
    """ResNet-50 v1b (bottlenecks, [3, 4, 6, 3]) with ATAC, the paper's ImageNet model."""
    return get_resnet_v1b_atac(50, classes=classes, pretrained=pretrained, **kwargs)


@imagenet_family.variant
def resnet101_v1b_atac(pretrained: bool = False, classes: int = 1000, **kwargs) -> ResNet50_v1bATAC:
    """ResNet-101 v1b (bottlenecks, [3, 4, 23, 3]) with ATAC in the last stages."""
    return get_resnet_v1b_atac(101, classes=classes, pretrained=pretrained, **kwargs)


@imagenet_family.variant
def resnet152_v1b_atac(pretrained: bool = False, classes: int = 1000, **kwargs) -> ResNet50_v1bATAC:
    """ResNet-152 v1b (bottlenecks, [3, 8, 36, 3]) with ATAC in the last stages."""
    return get_resnet_v1b_atac(152, classes=classes, pretrained=pretrained, **kwargs)
