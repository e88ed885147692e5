"""The three inference modes (see the package docstring): :func:`quantize_model` and a builder per
mode, from the repaired float32 graph to a hybridized ``SymbolBlock``."""
import logging
import os
import tempfile
import time
import warnings

import mxnet as mx
import numpy as np

from ..deployment import save_block
from ..errors import BadInput
from ..onednn import quiet_stderr, require_bf16
from .graph import fp32_symbol, fuse_int8_gates, matching_nodes, op_nodes, split_conv_fanout

__all__ = ['MODES', 'CALIB_MODES', 'QUANTIZE_MODES', 'FLOAT_OPS', 'QUANTIZED_DTYPE',
           'ENTROPY_BINS', 'quantize_model', 'export_quantized']

MODES = ('int8', 'bf16', 'fp32')
CALIB_MODES = ('naive', 'entropy')
QUANTIZE_MODES = ('smart', 'full')

#: operators left in float32: the ATAC gate's product (see the package docstring)
FLOAT_OPS = ['elemwise_mul']

#: MXNet's 'auto': uint8 where the calibrated range is non-negative (after a ReLU), int8
#: elsewhere
QUANTIZED_DTYPE = 'auto'

#: histogram bins of the entropy calibration (odd, as MXNet requires): MXNet's default 8001
#: costs 0.7 s of KL search per layer (about 90 s for ResNet-20); TensorRT's calibrator uses
#: 2048, and 2047 takes about 16 times less
ENTROPY_BINS = 2047


def quantize_model(net, mode, calib_batches=None, ctx=mx.cpu(), calib_mode='naive',
                   num_calib_batches=None, exclude=None, log=None, quantize_mode='smart',
                   fuse_gates=False):
    """A low-precision (or fused float32) inference block of ``net``.

    Parameters
    ----------
    net : HybridBlock
        The float32 network, initialized (e.g. a loaded checkpoint); not modified.
    mode : str
        ``'int8'``, ``'bf16'`` or ``'fp32'`` (see the package docstring).
    calib_batches : iterable, optional
        int8 only (required there): batches ``(data, label)`` or ``data``, NCHW float32 NDArrays
        or arrays, of the data the network will see (normalised as in training).
    ctx : Context
        Where calibration runs and the parameters live; the oneDNN graphs need the CPU.
    calib_mode : str
        int8: ``'naive'`` (the observed min / max) or ``'entropy'`` (thresholds minimising the
        KL divergence of each layer's output histogram, :data:`ENTROPY_BINS` bins). Naive is
        the default: on the digits models entropy clips the first stage's sparse activations
        (digit strokes on a flat background) to a third of their range and loses 1 to 5 points
        of accuracy where naive loses under 0.3.
    num_calib_batches : int, optional
        int8: calibrate on the first this many batches of ``calib_batches`` (default all).
    exclude : list of str, optional
        int8: layers to keep in float32, as regular expressions searched in the float32
        graph's node names (e.g. ``['chaatac']`` keeps every ATAC unit's convolutions in
        float32, ``[r'chaatac\\d+_conv1']`` only the gate convolutions).
    log : logging.Logger, optional
        Gets a line on the calibration (default the ``atac`` logger).
    quantize_mode : str
        int8: ``'smart'`` (MXNet's heuristic: the input stays float32) or ``'full'`` (every
        operator that has an int8 kernel, the BatchNorm on the input included).
    fuse_gates : bool
        int8: compute each ATAC gate with :mod:`atac_gluon.ops`' ``atac_int8_gate`` (built and
        loaded on first use) instead of its float32 island (:func:`fuse_int8_gates`). The block
        then needs that library loaded wherever it is loaded again.

    Returns
    -------
    SymbolBlock
        Hybridized (static memory), float32 ``data`` in, float32 logits out.
    """
    if mode not in MODES:
        raise BadInput('unknown quantization mode %r; valid: %s' % (mode, ', '.join(MODES)))
    if fuse_gates and mode != 'int8':
        raise BadInput('fused gates are int8 operators: they need mode int8, not %s' % mode)
    log = log or logging.getLogger('atac')
    sym, arg_params, aux_params = fp32_symbol(net)
    sym = split_conv_fanout(sym)
    if mode == 'fp32':
        block = _symbol_block(sym.get_backend_symbol('MKLDNN'), arg_params, aux_params, ctx)
    elif mode == 'bf16':
        block = _bf16_block(sym, arg_params, aux_params, ctx)
    else:
        calib, num_images = _calibration_iter(calib_batches, num_calib_batches)
        block = _int8_block(sym, arg_params, aux_params, calib, num_images, ctx, calib_mode,
                            matching_nodes(sym, exclude or []), log, quantize_mode,
                            fuse_gates)
    block.hybridize(static_alloc=True, static_shape=True)
    return block


def export_quantized(net, mode, prefix, calib_batches=None, **kwargs):
    """:func:`quantize_model` written as ``<prefix>-symbol.json`` + ``<prefix>-0000.params``.

    Load it with ``mx.gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'],
    prefix + '-0000.params')`` (an MXNet built with oneDNN, like the pip wheel, for int8).
    The files are written in a temporary directory beside ``prefix`` and renamed into place;
    a write error is WriteFailed.

    Parameters
    ----------
    net, mode, calib_batches, **kwargs
        As :func:`quantize_model`.
    prefix : str
        Output path prefix.

    Returns
    -------
    block : SymbolBlock
        The exported block.
    files : list of str
        The symbol and parameter file.
    """
    block = quantize_model(net, mode, calib_batches=calib_batches, **kwargs)
    return block, save_block(block, prefix)


def _symbol_block(sym, arg_params, aux_params, ctx):
    """SymbolBlock of ``sym`` on input ``data`` with the given parameters (cast to the dtypes
    the graph declares)."""
    with warnings.catch_warnings():  # 'Cannot decide type for data': it is float32
        warnings.simplefilter('ignore', UserWarning)
        block = mx.gluon.SymbolBlock(sym, [mx.sym.var('data')])
    params = block.collect_params()
    for name, param in params.items():
        value = arg_params.get(name, aux_params.get(name))
        if value is None:
            raise BadInput('the graph needs parameter %s, which the network does not have'
                           % name)
        if param.dtype is not None and np.dtype(param.dtype) != value.dtype:
            param.cast(value.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'params')
        save = {'arg:%s' % k: v for k, v in arg_params.items()}
        save.update({'aux:%s' % k: v for k, v in aux_params.items()})
        mx.nd.save(path, save)
        params.load(path, ctx=ctx, cast_dtype=True, dtype_source='saved',
                    allow_missing=False, ignore_extra=True)
    return block


# --------------------------------------------------------------------------- bf16


def _bf16_block(sym, arg_params, aux_params, ctx):
    """bfloat16 mixed precision with AMP's lists (what ``amp.convert_hybrid_block`` does, on
    the repaired symbol): convolutions and the classifier in bfloat16, BatchNorm and pooling in
    the type of their input with float32 parameters, what the lists name float32 so; the ATAC
    gate's product (:data:`FLOAT_OPS`) in float32."""
    from mxnet.contrib import amp
    require_bf16()
    # AMP would run the gate product in bfloat16 (elemwise_mul takes its inputs' widest
    # type), on the default CPU kernels: 30 ms per multiply instead of 0.3
    products = op_nodes(sym, FLOAT_OPS)
    bf16_sym, bf16_args, bf16_auxs = amp.convert_model(sym, arg_params, aux_params,
                                                       target_dtype='bfloat16',
                                                       excluded_sym_names=products,
                                                       cast_optional_params=True)
    return _symbol_block(bf16_sym, bf16_args, bf16_auxs, ctx)


# --------------------------------------------------------------------------- int8


def _calibration_iter(calib_batches, num_calib_batches):
    """(DataIter over the calibration images, number of images)."""
    if calib_batches is None:
        raise BadInput('int8 quantization needs calibration batches')
    if num_calib_batches is not None and num_calib_batches < 1:
        raise BadInput('num_calib_batches must be at least 1, got %r' % (num_calib_batches,))
    datas = []
    for batch in calib_batches:
        data = batch[0] if isinstance(batch, (tuple, list)) else batch
        datas.append(data.asnumpy() if isinstance(data, mx.nd.NDArray)
                     else np.asarray(data, dtype=np.float32))
        if num_calib_batches is not None and len(datas) >= num_calib_batches:
            break
    if not datas:
        raise BadInput('the calibration data has no batch')
    batch_size = len(datas[0])
    data = np.concatenate(datas).astype(np.float32, copy=False)
    return mx.io.NDArrayIter(data, batch_size=batch_size, last_batch_handle='pad'), len(data)


def _int8_block(sym, arg_params, aux_params, calib, num_images, ctx, calib_mode, excluded, log,
                quantize_mode, fuse_gates=False):
    """The steps of ``quantize_net_v2`` (MKLDNN_QUANTIZE fusion, quantization pass, calibration
    on ``calib``, fusion again), taken one by one to calibrate the entropy thresholds on
    :data:`ENTROPY_BINS` bins."""
    from mxnet.contrib import quantization as mxq
    if calib_mode not in CALIB_MODES:
        raise BadInput('unknown calibration mode %r; valid: %s'
                       % (calib_mode, ', '.join(CALIB_MODES)))
    if quantize_mode not in QUANTIZE_MODES:
        raise BadInput('unknown quantize mode %r; valid: %s'
                       % (quantize_mode, ', '.join(QUANTIZE_MODES)))
    start = time.time()
    with quiet_stderr():  # the pass logs every operator it leaves in float32 (C++ INFO)
        fused = sym.get_backend_symbol('MKLDNN_QUANTIZE')
        qsym, qarg_params, qaux_params, collector = mxq.quantize_graph(
            sym=fused, arg_params=arg_params, aux_params=aux_params, ctx=ctx,
            excluded_sym_names=list(excluded), excluded_op_names=FLOAT_OPS,
            calib_mode=calib_mode,
            quantized_dtype=QUANTIZED_DTYPE, quantize_mode=quantize_mode)
        if calib_mode == 'entropy':
            collector.num_bins = ENTROPY_BINS
        module = mx.mod.Module(symbol=fused, context=ctx, data_names=['data'],
                               label_names=None)
        module.bind(for_training=False, data_shapes=calib.provide_data)
        module.set_params(arg_params, aux_params, allow_missing=False, force_init=True)
        mxq._collect_layer_statistics(module, calib, collector, num_images)
        mx.nd.waitall()
        qsym, qarg_params, qaux_params = mxq.calib_graph(
            qsym=qsym, arg_params=arg_params, aux_params=aux_params, collector=collector,
            calib_mode=calib_mode, quantized_dtype=QUANTIZED_DTYPE, logger=None)
        qsym = qsym.get_backend_symbol('MKLDNN_QUANTIZE')
    fused = ''
    if fuse_gates:
        qsym, count = fuse_int8_gates(qsym)
        fused = ', %d ATAC gates fused' % count
    log.info('int8 (%s calibration on %d images, %s%s): %.1f s', calib_mode, num_images,
             quantize_mode, fused, time.time() - start)
    return _symbol_block(qsym, qarg_params, qaux_params, ctx)
