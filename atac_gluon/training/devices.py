"""Where and in what precision a run trains: the contexts of the official ``--gpus`` /
``--num-gpus`` flags, the data type they can train in, and the fused CPU gates
(``--fused-gates``)."""
import mxnet as mx

from ..activations import set_fused_gates
from ..errors import BadInput

__all__ = ['contexts_from_gpus', 'check_dtype', 'fuse_gates']


def contexts_from_gpus(gpus, log):
    """Contexts for the official ``--gpus`` string ('0', '0,1', '' for CPU).

    Without GPUs each requested GPU becomes one CPU context (cpu(0), cpu(1), ...), so batches are
    split and gradients aggregated exactly as on the GPUs and the global batch stays the same.
    """
    try:
        ids = [int(i) for i in gpus.split(',') if i.strip()]
    except ValueError:
        raise BadInput('--gpus must be comma-separated GPU ids such as 0 or 0,1, got %r' % gpus)
    if len(set(ids)) != len(ids) or any(i < 0 for i in ids):
        raise BadInput('--gpus must list distinct non-negative ids, got %r' % gpus)
    if not ids:
        return [mx.cpu()]
    available = mx.context.num_gpus()
    if available:
        missing = [i for i in ids if i >= available]
        if missing:
            raise BadInput('--gpus %s: only %d GPU(s) here' % (gpus, available))
        return [mx.gpu(i) for i in ids]
    log.info('no GPU here: training on %d CPU context(s) instead of GPU(s) %s', len(ids), gpus)
    return [mx.cpu(i) for i in range(len(ids))]


def check_dtype(dtype, ctx):
    """BadInput if the contexts ``ctx`` cannot train in ``dtype`` (float16 on the CPU)."""
    if dtype != 'float32' and all(c.device_type == 'cpu' for c in ctx):
        raise BadInput("--dtype %s: MXNet's CPU kernels do not train in %s; use GPUs "
                       '(--num-gpus) or --dtype float32' % (dtype, dtype))


def fuse_gates(net, dtype, ctx):
    """--fused-gates: switch ``net``'s local ChaATAC units to the fused operator (building the
    library if needed); returns the note to log. BadInput when it cannot apply: float32 on the
    CPU only, and only to local units."""
    if dtype != 'float32':
        raise BadInput('--fused-gates: the fused gate is float32 only, not --dtype %s' % dtype)
    if any(c.device_type != 'cpu' for c in ctx):
        raise BadInput('--fused-gates: the fused gate runs on the CPU only, not on %s' % ctx)
    try:
        units = set_fused_gates(net)
    except BadInput as err:
        raise BadInput('--fused-gates: %s' % err) from None
    if not units:
        raise BadInput('--fused-gates: the network has no local ChaATAC unit to fuse (--act-type '
                       'ChaATAC without --useGlobal has them)')
    return 'fused ATAC gates: %d units compute sigmoid and product in atac_gluon.ops' % units
