"""ATAC unit and the single ``act_type`` -> activation block factory."""
import numbers
from typing import Optional

from mxnet import initializer
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from .errors import BadInput

__all__ = ['ChaATAC', 'PReLU', 'SELU', 'create_act', 'check_act_type', 'check_count',
           'set_fused_gates', 'ACT_TYPES']


def check_count(name, value, low=1, high=None):
    """``int(value)``, or BadInput naming ``name`` unless ``value`` is an integer from ``low``
    to ``high`` (both included; no upper bound when None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadInput('%s must be an integer, got %r' % (name, value))
    if high is not None and not low <= value <= high:
        raise BadInput('%s must be an integer from %d to %d, got %r' % (name, low, high, value))
    if value < low:
        raise BadInput('%s must be %s, got %r' % (
            name, 'positive' if low == 1 else 'at least %d' % low, value))
    return int(value)


class ChaATAC(HybridBlock):
    r"""Channel-wise attention as activation (ATAC) unit.

    ``y = x * sigmoid(BN(conv(act(BN(conv(pool(x)))))))`` with 1x1 convolutions
    ``channels -> channels // r -> channels``; the pooling is a global average pool when
    ``useGlobal`` (an SE-style unit), the identity otherwise (local, per-pixel attention).

    The layers live in ``self.module`` (structural parameter names ``module.<index>.*``) as in
    the official code, so official checkpoints load unchanged.

    Parameters
    ----------
    channels : int
        Number of input (and output) channels.
    r : int
        Channel reduction ratio; the bottleneck has ``channels // r`` channels.
    useReLU : bool
        Whether a ReLU follows the first BatchNorm.
    useGlobal : bool
        Whether to pool globally before the bottleneck (one weight per channel).
    """

    def __init__(self, channels: int, r: int, useReLU: bool, useGlobal: bool, **kwargs):
        super().__init__(**kwargs)
        self.channels = check_count('channels', channels)
        r = check_count('r', r)
        self.inter_channels = self.channels // r
        if self.inter_channels == 0:
            raise BadInput('channels // r must be at least 1, got channels=%d, r=%d'
                             % (self.channels, r))
        self.r = r
        self.useReLU = bool(useReLU)
        self.useGlobal = bool(useGlobal)
        # set by set_fused_gates: sigmoid and product in one operator of atac_gluon.ops
        self.fused_gate = False
        with self.name_scope():
            self.module = nn.HybridSequential(prefix='module')
            if useGlobal:
                self.module.add(nn.GlobalAvgPool2D())
            self.module.add(nn.Conv2D(self.inter_channels, kernel_size=1, use_bias=False,
                                      in_channels=self.channels))
            self.module.add(nn.BatchNorm(in_channels=self.inter_channels))
            if useReLU:
                self.module.add(nn.Activation('relu'))
            self.module.add(nn.Conv2D(self.channels, kernel_size=1, use_bias=False,
                                      in_channels=self.inter_channels))
            self.module.add(nn.BatchNorm(in_channels=self.channels))
            self.module.add(nn.Activation('sigmoid'))

    def hybrid_forward(self, F, x):
        if self.fused_gate:  # the module without its final sigmoid: the gate's logits
            logits = x
            for index in range(len(self.module) - 1):
                logits = self.module[index](logits)
            return F.atac_gate(x, logits)
        gate = self.module(x)
        if self.useGlobal:  # one weight per channel: (N, C, 1, 1) broadcast over the pixels
            return F.broadcast_mul(x, gate)
        # the local gate has x's shape: elemwise_mul computes the same product with MXNet's
        # faster kernels (forward and backward; README, speed) and keeps the oneDNN layout
        return F.elemwise_mul(x, gate)


def set_fused_gates(net: HybridBlock, enabled: bool = True) -> int:
    """Compute the sigmoid and the product of every local ChaATAC unit in ``net`` (and their
    gradients) with the fused float32 operator ``atac_gate`` of :mod:`atac_gluon.ops`, or again
    with MXNet's ``Activation`` and ``elemwise_mul`` when ``enabled`` is False. The parameters
    and the numbers stay the same (to float rounding); a training step on the CPU gets 6-16%
    faster. Global (SE-style) units keep MXNet's operators.

    Enabling builds the operator library on first use (a C++ compiler) and loads it. Call it
    before ``net.hybridize()``, or hybridize again after it: a cached graph keeps the operators
    it was traced with.

    Parameters
    ----------
    net : mxnet.gluon.Block
        A network holding ChaATAC units.
    enabled : bool
        Fuse (True) or go back to MXNet's operators (False).

    Returns
    -------
    int
        The number of units switched.

    Raises
    ------
    BadInput
        If the library cannot be built or loaded.
    """
    units = []
    net.apply(lambda block: units.append(block)
              if isinstance(block, ChaATAC) and not block.useGlobal else None)
    if enabled and units:
        from mxnet import ndarray
        from . import ops
        path = ops.load()
        if not hasattr(ndarray, 'atac_gate'):  # this process loaded an older library first
            raise BadInput('the operator library %s loaded in this process has no atac_gate '
                           '(a copy from an older export?)' % path)
    for unit in units:
        unit.fused_gate = bool(enabled)
    return len(units)


class PReLU(nn.PReLU):
    r"""Parametric ReLU with the parameters of :class:`mxnet.gluon.nn.PReLU` (``alpha``).

    Computes ``relu(x) - alpha * relu(-x)`` from elementwise operators instead of MXNet's
    ``LeakyReLU(act_type='prelu')``, whose hybridized alpha gradient is wrong in MXNet 1.9.1
    when other layers follow it.

    Parameters
    ----------
    alpha_initializer : Initializer
        Initializer for ``alpha`` (default 0.25).
    in_channels : int, default 1
        Number of alpha parameters: 1 (shared) or the number of channels (axis 1).
    """

    def __init__(self, alpha_initializer=initializer.Constant(0.25), in_channels=1, **kwargs):
        super().__init__(alpha_initializer=alpha_initializer, in_channels=in_channels, **kwargs)
        self._shared_alpha = in_channels == 1

    def hybrid_forward(self, F, x, alpha):
        if not self._shared_alpha:
            # one alpha per channel: put it on axis 1 whatever the input rank
            alpha = F.reshape(alpha, shape=(1, -1, 1, 1))
        return F.relu(x) - F.broadcast_mul(alpha, F.relu(-x))


class SELU(nn.SELU):
    r"""Scaled ELU, ``scale * (relu(x) + alpha * expm1(min(x, 0)))``.

    Built from elementwise operators because MXNet 1.9.1's SELU backward is wrong for negative
    inputs (it uses ``y + alpha`` where the derivative is ``y + scale * alpha``: about 30 times
    too small at x = -3).
    """
    SCALE = 1.0507009873554804934193349852946
    ALPHA = 1.6732632423543772848170429916717

    def hybrid_forward(self, F, x):
        return self.SCALE * (F.relu(x) + self.ALPHA * F.expm1(F.minimum(x, 0)))


# act_type -> constructor(channels, r, useReLU, useGlobal). The names are the official ones.
_FACTORIES = {
    'relu': lambda channels, r, useReLU, useGlobal: nn.Activation('relu'),
    'prelu': lambda channels, r, useReLU, useGlobal: PReLU(),
    'elu': lambda channels, r, useReLU, useGlobal: nn.ELU(),
    'selu': lambda channels, r, useReLU, useGlobal: SELU(),
    'gelu': lambda channels, r, useReLU, useGlobal: nn.GELU(),
    'swish': lambda channels, r, useReLU, useGlobal: nn.Swish(),
    'ChaATAC': ChaATAC,
}
ACT_TYPES = tuple(_FACTORIES)


def check_act_type(act_type, what='act_type'):
    """Raise BadInput listing the valid activation names unless ``act_type`` is one."""
    if act_type not in _FACTORIES:
        raise BadInput('unknown %s %r; valid: %s' % (what, act_type, ', '.join(ACT_TYPES)))
    return act_type


def create_act(act_type: str, channels: int = 0, r: Optional[int] = None, useReLU: bool = True,
               useGlobal: bool = False) -> HybridBlock:
    """Build the activation block named ``act_type``.

    Parameters
    ----------
    act_type : str
        One of ``relu, prelu, elu, selu, gelu, swish, ChaATAC``.
    channels : int
        Channels of the input; used by ChaATAC only.
    r : int
        Reduction ratio; used by ChaATAC only.
    useReLU, useGlobal : bool
        ChaATAC switches; ignored by the other activations.
    """
    check_act_type(act_type)
    return _FACTORIES[act_type](channels=channels, r=r, useReLU=useReLU, useGlobal=useGlobal)
