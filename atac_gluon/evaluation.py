"""A network over validation batches in inference mode: the one evaluation loop of the package
(training's per-epoch validation, the export's accuracy report of a quantized graph), and the
logits over batches."""
import mxnet as mx
import numpy as np
from mxnet import gluon

__all__ = ['evaluate', 'evaluate_accuracy', 'predict_batches']


def _split(batch, ctx):
    """``batch`` (NDArray or array) in parts across the contexts ``ctx`` (a last part may be
    smaller)."""
    return gluon.utils.split_and_load(batch, ctx_list=ctx, batch_axis=0, even_split=False)


def evaluate(net, batches, ctx, metrics, dtype='float32'):
    """Update ``metrics`` (mx.metric objects) over ``batches`` in inference mode; return them.

    Parameters
    ----------
    net : Block
        The network (or a SymbolBlock of an inference graph).
    batches : iterable of (data, label)
        NDArrays or arrays; each batch is split across ``ctx``.
    ctx : list of Context
    metrics : list of mx.metric.EvalMetric
        Reset first.
    dtype : str
        The inputs are cast to it (the network's).
    """
    for metric in metrics:
        metric.reset()
    for data, label in batches:
        data = data.astype(dtype, copy=False)
        datas, labels = _split(data, ctx), _split(label, ctx)
        outputs = [net(x) for x in datas]
        for metric in metrics:
            metric.update(labels, outputs)
    return metrics


def evaluate_accuracy(net, batches, ctx=mx.cpu()):
    """Top-1 accuracy of ``net`` over ``batches`` of (data, label) on one context: the loop of
    :func:`evaluate`, float32 inputs.

    Returns
    -------
    (float, int)
        Accuracy and the number of images.
    """
    metric, = evaluate(net, batches, [ctx], [mx.metric.Accuracy()])
    return metric.get()[1], metric.num_inst


def predict_batches(net, batches, ctx=mx.cpu()):
    """Logits of ``net`` on every batch of ``batches`` ((data, label) or data), concatenated
    into one float32 numpy array."""
    outputs = []
    for batch in batches:
        data = batch[0] if isinstance(batch, (tuple, list)) else batch
        data = mx.nd.array(data, ctx=ctx) if not isinstance(data, mx.nd.NDArray) else \
            data.as_in_context(ctx)
        outputs.append(net(data.astype('float32', copy=False)).astype('float32').asnumpy())
    return np.concatenate(outputs)
