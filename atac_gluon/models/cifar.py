"""Pre-activation CIFAR ResNet with ATAC (ResNet20V2ATAC), built on GluonCV's CIFARResNetV2.

Structural parameter names (``features.2.0.msAA1.module.0.weight`` ...) are those of the official
code, so its checkpoints load; GluonCV ``cifar_resnet*_v2`` checkpoints are a subset of them.

The structure, kept on purpose (the v1b family in ``imagenet.py`` follows it):

* every activation comes from the one ``act_type`` table, :func:`~atac_gluon.create_act`;
* which stage gets which activation is one function, :func:`stage_act_types` (official rule);
* block and host subclass GluonCV's and override only what differs: :class:`ResBlockV2ATAC`
  adds the ``msAA1``/``msAA2`` children (GluonCV's block calls ``F.Activation``, it has no
  activation child to replace), :class:`ResNet20V2ATAC` gives each stage its block through
  ``_make_layer`` and swaps the final ReLU in place; the golden-layout test of
  ``tests/test_models.py`` pins the resulting names to the official checkpoint's;
* models are built by name through one explicit registered function per name (end of the
  module), or for any depth through :func:`get_cifar_resnet_atac`.
"""
import mxnet as mx
import numpy as np
from mxnet.gluon.nn import BatchNorm
from gluoncv.model_zoo.cifarresnet import CIFARBasicBlockV2, CIFARResNetV2

from ..activations import check_act_type, check_count, create_act
from ..errors import BadInput
from .params import InitializeMissing
from .registry import ModelFamily, refuse_pretrained

__all__ = ['ResBlockV2ATAC', 'ResNet20V2ATAC', 'stage_act_types', 'get_cifar_resnet_atac',
           'set_input_bn_statistics', 'MAX_ACT_LAYERS']

ACT_ORDERS = ('bac', 'pre')
#: act_layers of the paper's three-stage host: each stage and the final activation (0: none)
MAX_ACT_LAYERS = 4


def stage_act_types(num_stages, act_layers, act_type, replace_act, act_order):
    """Activation of each stage and of the final activation, as the official code chooses them.

    ``'bac'`` gives ``act_type`` to the last ``act_layers - 1`` stages and, when
    ``act_layers >= 1``, to the final activation; ``'pre'`` gives it to the first ``act_layers``
    stages and, when ``act_layers >= 4``, to the final activation. The rest get ``replace_act``.

    Returns
    -------
    (list of str, str)
        Per-stage activation names and the final activation name.
    """
    if act_order not in ACT_ORDERS:
        raise BadInput('unknown act_order %r; valid: %s' % (act_order, ', '.join(ACT_ORDERS)))
    if act_order == 'bac':
        # the official test is `i + act_layers < len(channels)` with len(channels) == stages + 1
        stages = [replace_act if i + act_layers < num_stages + 1 else act_type
                  for i in range(num_stages)]
        final = act_type if act_layers > 0 else replace_act
    else:
        stages = [act_type if i < act_layers else replace_act for i in range(num_stages)]
        final = act_type if act_layers >= 4 else replace_act
    return stages, final


class ResBlockV2ATAC(CIFARBasicBlockV2):
    r"""Pre-activation basic block whose two activations are ``act_type`` blocks.

    ``msAA1`` acts on the block input (``in_channels``), ``msAA2`` after ``bn2`` (``channels``);
    the names are the official ones (checkpoint compatibility).

    Parameters
    ----------
    act_type : str
        Activation name, see :func:`atac_gluon.create_act`.
    r : int
        ChaATAC reduction ratio.
    skernel, dilation, asBackbone
        Accepted for compatibility with the official signature; unused there and here.
    channels : int
        Output channels.
    useReLU, useGlobal : bool
        ChaATAC switches.
    stride : int
        Stride of the first convolution.
    downsample : bool
        Whether the shortcut is a strided 1x1 convolution.
    in_channels : int
        Input channels.
    norm_layer, norm_kwargs
        Normalization layer and its arguments.
    """

    def __init__(self, act_type, r, skernel, dilation, channels, useReLU, useGlobal, asBackbone,
                 stride, downsample=False, in_channels=0, norm_layer=BatchNorm,
                 norm_kwargs=None, **kwargs):
        super().__init__(channels, stride, downsample=downsample, in_channels=in_channels,
                         norm_layer=norm_layer, norm_kwargs=norm_kwargs, **kwargs)
        with self.name_scope():
            self.msAA1 = create_act(act_type, in_channels, r, useReLU, useGlobal)
            self.msAA2 = create_act(act_type, channels, r, useReLU, useGlobal)

    def hybrid_forward(self, F, x):
        residual = x
        x = self.conv1(self.msAA1(self.bn1(x)))
        x = self.conv2(self.msAA2(self.bn2(x)))
        if self.downsample:
            residual = self.downsample(residual)
        return x + residual


class ResNet20V2ATAC(InitializeMissing, CIFARResNetV2):
    r"""Pre-activation CIFAR ResNet host of the paper, ATAC (or another activation) in chosen stages.

    Parameters
    ----------
    layers : list of int
        Blocks per stage, e.g. ``[3, 3, 3]``.
    channels : list of int
        Stem channels then channels per stage, e.g. ``[16, 16, 32, 64]``.
    classes : int
        Number of classes.
    act_type : str
        Activation placed by ``act_layers`` / ``act_order``: relu, prelu, elu, selu, gelu, swish,
        ChaATAC.
    r : int
        ChaATAC reduction ratio (ignored by other activations).
    skernel, dilation, asBackbone
        Accepted for compatibility with the official signature; unused.
    useReLU, useGlobal : bool
        ChaATAC switches.
    act_layers : int
        How many of the stages (counted with the final activation, see
        :func:`stage_act_types`) get ``act_type``, at least 0 (values past the stages mean all);
        the official script's default is 4 (all).
    replace_act : str
        Activation used where ``act_type`` is not.
    act_order : str
        ``'bac'`` (from the back) or ``'pre'`` (from the front).
    norm_layer, norm_kwargs
        Normalization layer and its arguments.
    """

    def __init__(self, layers, channels, classes, act_type, r, skernel, dilation, useReLU,
                 useGlobal, act_layers, replace_act, act_order, asBackbone, norm_layer=BatchNorm,
                 norm_kwargs=None, **kwargs):
        if len(layers) != len(channels) - 1:
            raise BadInput('channels must have one entry more than layers, got layers=%r, '
                             'channels=%r' % (list(layers), list(channels)))
        for blocks in layers:  # GluonCV builds one block for 0 or -1
            check_count('blocks per stage', blocks)
        check_count('classes', classes)
        check_count('act_layers', act_layers, 0)  # beyond the stages: all of them
        check_act_type(act_type)
        check_act_type(replace_act, 'replace_act')
        stages, final = stage_act_types(len(layers), act_layers, act_type, replace_act, act_order)
        act_args = dict(r=r, skernel=skernel, dilation=dilation, useReLU=useReLU,
                        useGlobal=useGlobal, asBackbone=asBackbone)
        self._stage_blocks = [self._block_factory(stage_act, act_args) for stage_act in stages]
        super().__init__(None, layers, channels, classes=classes, norm_layer=norm_layer,
                         norm_kwargs=norm_kwargs, **kwargs)
        self.act_types = stages + [final]
        # GluonCV hard-codes the final ReLU at features[-4] (before pool and flatten); swap it in
        # place so the structural name (features.<n>) stays the official one.
        final_index = str(len(self.features) - 3)
        with self.name_scope():  # the official prefix: <net>_chaatacN_
            self.features.register_child(create_act(final, channels[-1], r, useReLU, useGlobal),
                                         final_index)

    @staticmethod
    def _block_factory(act_type, act_args):
        def make(channels, stride, downsample, in_channels=0, **kwargs):
            return ResBlockV2ATAC(act_type, channels=channels, stride=stride,
                                  downsample=downsample, in_channels=in_channels,
                                  **dict(act_args, **kwargs))
        return make

    def _make_layer(self, block, layers, channels, stride, stage_index, in_channels=0,
                    norm_layer=BatchNorm, norm_kwargs=None):
        return super()._make_layer(
            self._stage_blocks[stage_index - 1], layers, channels, stride, stage_index,
            in_channels=in_channels, norm_layer=norm_layer, norm_kwargs=norm_kwargs)


def set_input_bn_statistics(net, mean, var):
    """Set the running statistics of the CIFAR host's input BatchNorm, on every context.

    GluonCV's CIFARResNetV2 starts with a BatchNorm on the data (``features[0]``, no scale, no
    shift, hence no trainable parameter). MXNet updates running statistics in BatchNorm's
    backward pass, which never runs for that layer: its running mean and variance stay 0 and 1
    (in the official code too), so at inference it is the identity while training standardises
    every batch. Setting them to the training inputs' statistics (e.g.
    :meth:`~atac_gluon.data.batches.BatchIterator.channel_statistics`) makes inference
    standardise as training did. Works before the first forward pass (deferred shapes) too.

    Parameters
    ----------
    net : ResNet20V2ATAC or another GluonCV CIFARResNetV2
        Initialized (``net.initialize``), shapes known or not.
    mean, var : sequence of float
        One value per input channel; ``var`` non-negative (BatchNorm adds its epsilon).

    Raises
    ------
    BadInput
        ``net`` has no BatchNorm at ``features[0]``, or ``mean`` / ``var`` are not finite
        per-channel values (negative variance included).
    """
    features = getattr(net, 'features', None)
    first = features[0] if features is not None and len(features) else None
    if not isinstance(first, BatchNorm):
        raise BadInput('%s has no input BatchNorm (features[0] of a CIFAR pre-activation '
                       'ResNet) to set the statistics of' % type(net).__name__)
    mean = np.asarray(mean, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    channels = first.running_mean.shape[0] if first.running_mean.shape else 0
    if (mean.ndim != 1 or var.shape != mean.shape or not mean.size
            or (channels and mean.size != channels)):
        raise BadInput('the input BatchNorm needs one mean and one variance per input channel%s, '
                       'got shapes %s and %s' % (' (%d)' % channels if channels else '',
                                                  mean.shape, var.shape))
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)):
        raise BadInput('input BatchNorm statistics must be finite with a non-negative variance, '
                       'got mean %s var %s' % (mean.tolist(), var.tolist()))
    # set_data writes every context's copy (or, before shapes are known, the initial value)
    first.running_mean.set_data(mx.nd.array(mean, dtype=first.running_mean.dtype))
    first.running_var.set_data(mx.nd.array(var, dtype=first.running_var.dtype))


#: the family's attributes, given to :func:`get_cifar_resnet_atac` and every registered name
cifar_family = ModelFamily(input_shape=(1, 3, 32, 32), dataset='cifar10',
                           max_act_layers=MAX_ACT_LAYERS)


@cifar_family
def get_cifar_resnet_atac(blocks: int, classes: int = 10, act_type: str = 'ChaATAC', r: int = 2,
                          useReLU: bool = True, useGlobal: bool = False, act_layers: int = 4,
                          replace_act: str = 'relu', act_order: str = 'bac',
                          pretrained: bool = False, **kwargs) -> ResNet20V2ATAC:
    r"""The paper's CIFAR host with ``blocks`` blocks per stage (depth ``6 * blocks + 2``).

    The family factory: any positive ``blocks`` (the training script's ``--blocks``), where the
    registered ``cifar_resnet<depth>_v2_atac`` functions below cover depths 8 to 56 (blocks 1 to
    9; the paper's are 1 to 5). It carries the family attributes of the registered names.

    Parameters
    ----------
    blocks : int
        Blocks per stage (the official script's ``--blocks``).
    classes : int
        Number of classes.
    act_type, r, useReLU, useGlobal, act_layers, replace_act, act_order
        See :class:`ResNet20V2ATAC`; the defaults are the README's CIFAR command.
    pretrained : bool
        Must be False: no pretrained ATAC weights are published (BadInput otherwise).
    **kwargs
        Further :class:`ResNet20V2ATAC` arguments (norm_layer, norm_kwargs, prefix, ...).
    """
    refuse_pretrained(pretrained, 'cifar_resnet%d_v2_atac' % (6 * blocks + 2)
                      if isinstance(blocks, int) else 'get_cifar_resnet_atac')
    return ResNet20V2ATAC(layers=[blocks] * 3, channels=[16, 16, 32, 64], classes=classes,
                          act_type=act_type, r=r, skernel=3, dilation=1, useReLU=useReLU,
                          useGlobal=useGlobal, act_layers=act_layers, replace_act=replace_act,
                          act_order=act_order, asBackbone=False, **kwargs)


# The registered names, one explicit function each (GluonCV/timm style): the paper's depths
# 8 to 32 (blocks 1 to 5) and GluonCV's cifar_resnet*_v2 ones up to 56. Other depths:
# get_cifar_resnet_atac(blocks, ...). cifar_family.variant adds the shared Parameters section
# to each docstring.
@cifar_family.variant
def cifar_resnet8_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-8 (1 block per stage) with ATAC."""
    return get_cifar_resnet_atac(1, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet14_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-14 (2 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(2, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet20_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-20 (3 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(3, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet26_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-26 (4 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(4, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet32_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-32 (5 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(5, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet38_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-38 (6 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(6, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet44_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-44 (7 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(7, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet50_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-50 (8 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(8, classes=classes, pretrained=pretrained, **kwargs)


@cifar_family.variant
def cifar_resnet56_v2_atac(pretrained: bool = False, classes: int = 10, **kwargs) -> ResNet20V2ATAC:
    """CIFAR pre-activation ResNet-56 (9 blocks per stage) with ATAC."""
    return get_cifar_resnet_atac(9, classes=classes, pretrained=pretrained, **kwargs)
