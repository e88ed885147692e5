"""FLOPs and parameter counts with the official tool's conventions (open-atac utils/flops.py).

FLOPs are multiply-adds of Conv2D (``in * kh * kw * out * oh * ow / groups`` plus one per bias
output) and Dense (``2 * out * in - in`` plus the bias); other layers count zero. Parameters are
counted per call of each leaf block, shared ones included, as the official tool prints them.
"""
from collections import OrderedDict

from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

__all__ = ['summary', 'count']


def _conv_flops(block, out_shape):
    weight, *rest = list(block.params.values())
    out_c, in_c, kh, kw = weight.shape
    out_h, out_w = out_shape[2], out_shape[3]
    flops = in_c * kh * kw * out_c * out_h * out_w // block._kwargs['num_group']
    for bias in rest:
        flops += bias.shape[0] * out_h * out_w
    return flops


def _dense_flops(block):
    weight, *rest = list(block.params.values())
    units, in_units = weight.shape
    return 2 * units * in_units - in_units + sum(b.shape[0] for b in rest)


def _is_active(block):
    active = []
    block.apply(lambda b: active.append(isinstance(b, HybridBlock) and b._active))
    return any(active)


def count(net, *inputs):
    """Run ``net`` on ``inputs`` once and count per layer.

    Parameters
    ----------
    net : Block
        An initialized, not hybridized network.
    *inputs : NDArray
        Inputs of one forward pass (batch size 1 gives the usual per-image figures).

    Returns
    -------
    (list of dict, dict)
        One row per called leaf block (layer, output_shape, flops, params, trainable) and the
        totals (flops, params, trainable, non_trainable, shared).
    """
    if _is_active(net):
        raise ValueError('summary needs a network that is not hybridized yet: call it before '
                         'hybridize()')
    rows, seen, hooks = [], set(), []
    totals = OrderedDict(flops=0, params=0, trainable=0, non_trainable=0, shared=0)

    def hook(block, _inputs, outputs):
        params = list(block.params.values())
        sizes = [p.data().size for p in params]
        row = OrderedDict(layer='%s-%d' % (type(block).__name__, len(rows) + 1),
                          output_shape=getattr(outputs, 'shape', None),
                          flops=0, params=sum(sizes),
                          trainable=sum(s for p, s in zip(params, sizes) if p.grad_req != 'null'))
        if isinstance(block, nn.Conv2D):
            row['flops'] = _conv_flops(block, outputs.shape)
        elif isinstance(block, nn.Dense):
            row['flops'] = _dense_flops(block)
        totals['shared'] += sum(s for p, s in zip(params, sizes) if p in seen)
        seen.update(params)
        rows.append(row)

    def register(block):
        if not isinstance(block, (nn.Sequential, nn.HybridSequential)):
            hooks.append(block.register_forward_hook(hook))

    try:
        net.apply(register)
        net(*inputs)
    finally:
        for handle in hooks:
            handle.detach()
    for row in rows:
        totals['flops'] += row['flops']
        totals['params'] += row['params']
        totals['trainable'] += row['trainable']
    totals['non_trainable'] = totals['params'] - totals['trainable']
    return rows, totals


def summary(net: HybridBlock, *inputs, print_fn=print) -> dict:
    """Print the per-layer table and the lines ``Total FLOPs: N``, ``Total params: N``,
    ``Trainable params: N``, ``Non-trainable params: N``; return the totals.

    Parameters
    ----------
    net : Block
        An initialized, not hybridized network.
    *inputs : NDArray
        Inputs of one forward pass, e.g. ``mx.nd.zeros((1, 3, 32, 32))``.
    print_fn : callable
        Where the lines go (``print`` by default; a logger's ``info`` works too).
    """
    rows, totals = count(net, *inputs)
    line = '{:>24}  {:>24} {:>15} {:>15}'
    print_fn('-' * 81)
    print_fn(line.format('Layer (type)', 'Output Shape', 'FLOPs', 'Param #'))
    print_fn('=' * 81)
    for row in rows:
        print_fn(line.format(row['layer'], str(row['output_shape']), row['flops'], row['params']))
    print_fn('=' * 81)
    print_fn('Total FLOPs: %d' % totals['flops'])
    print_fn('Total params: %d' % totals['params'])
    print_fn('Trainable params: %d' % totals['trainable'])
    print_fn('Non-trainable params: %d' % totals['non_trainable'])
    print_fn('Shared params: %d' % totals['shared'])
    return totals

