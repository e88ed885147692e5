"""Low-precision inference graphs for CPUs with oneDNN (MKLDNN): int8 post-training quantization,
bfloat16 mixed precision, and the fused float32 graph they are measured against.

Every mode starts from the network's float32 symbol graph and returns a hybridized
``SymbolBlock`` that takes NCHW float32 ``data`` and returns float32 logits:

* ``'fp32'``: the graph partitioned for the ``MKLDNN`` backend (convolution + BatchNorm +
  activation + residual sum fused, the ATAC gate's sigmoid included), the baseline;
* ``'int8'``: the steps of :func:`mxnet.contrib.quantization.quantize_net_v2` on the
  ``MKLDNN_QUANTIZE`` backend, thresholds calibrated on real batches (min / max by default,
  KL entropy on request). Every convolution is int8, the ATAC unit's 1x1 ones included; the
  gate's sigmoid and the product ``x * gate`` stay float32 (MXNet 1.9.1 has no int8 sigmoid;
  its int8 elemwise_mul takes no uint8 input and, on the default CPU kernels, was slower and
  less exact), with a dequantize / quantize around them;
* ``'bf16'``: :func:`mxnet.contrib.amp.convert_model` to bfloat16 (convolutions and the
  classifier in bfloat16, BatchNorm and pooling in their input's type, what the AMP lists
  name float32 so, and the ATAC gate's product in float32). It needs oneDNN bfloat16 kernels,
  i.e. an AVX-512 CPU.

One rewrite of the float32 graph comes first, :func:`split_conv_fanout`, a fusion bug's repair:
MXNet 1.9.1's MKLDNN partitioner folds a BatchNorm into a convolution whose output also feeds a
residual sum that another fused convolution has already taken, so the shortcut receives the
normalised tensor instead of the raw one. In the pre-activation CIFAR hosts that is the stem
convolution, and the stock ``optimize_for(backend='MKLDNN')`` graph's logits are off by O(1)
(a trained digits ResNet-20: 2.9 on logits of about 10). Giving each consumer of such a
convolution its own copy (the weights shared) makes every fusion exact.
"""
import json
import logging
import os
import re
import shutil
import tempfile
import sys
import time
import warnings
from collections import defaultdict
from contextlib import contextmanager

import mxnet as mx
import numpy as np

from .cpuinfo import cpu_flags
from .deployment import write_staged
from .errors import BadInput

__all__ = ['MODES', 'CALIB_MODES', 'QUANTIZE_MODES', 'CALIB_DATASETS', 'quantize_model',
           'export_quantized', 'save_block', 'evaluate_accuracy', 'predict_batches',
           'calibration_data', 'fp32_symbol', 'split_conv_fanout', 'float_layers', 'graph_ops',
           'bf16_supported', 'require_bf16', 'fuse_int8_gates']

MODES = ('int8', 'bf16', 'fp32')
CALIB_DATASETS = ('cifar10', 'cifar100', 'digits', 'imagenet')
CALIB_MODES = ('naive', 'entropy')
QUANTIZE_MODES = ('smart', 'full')

#: operators MKLDNN fuses into the convolution before them (the fusions that go wrong when the
#: convolution's output has other consumers)
_CONV_POST_OPS = ('BatchNorm', 'Activation', 'elemwise_add', 'LeakyReLU', 'clip')


def fp32_symbol(net):
    """The float32 inference graph of ``net`` and its parameters.

    Parameters
    ----------
    net : HybridBlock
        Initialized, its parameter shapes known (loaded or run once).

    Returns
    -------
    sym : Symbol
        Output of ``net`` on a variable named ``data``.
    arg_params, aux_params : dict of str to NDArray
        The graph's arguments (weights) and auxiliary states (BatchNorm running statistics),
        on the CPU.
    """
    sym = net(mx.sym.var('data'))
    if isinstance(sym, (list, tuple)):
        if len(sym) != 1:
            raise BadInput('the network has %d outputs; quantization needs one' % len(sym))
        sym = sym[0]
    params = net.collect_params()
    args, auxs = set(sym.list_arguments()), set(sym.list_auxiliary_states())
    arg_params, aux_params = {}, {}
    for name, param in params.items():
        if name in args:
            arg_params[name] = param.data().as_in_context(mx.cpu())
        elif name in auxs:
            aux_params[name] = param.data().as_in_context(mx.cpu())
    return sym, arg_params, aux_params


def split_conv_fanout(sym):
    """``sym`` with every Convolution whose output feeds more than one operator, one of which
    MKLDNN would fuse into it (BatchNorm, Activation, elemwise_add, ...), copied once per
    consumer (the copies share the weights).

    MXNet 1.9.1's ``MKLDNN`` and ``MKLDNN_QUANTIZE`` partitioners check a convolution's other
    consumers only among the operators no subgraph has taken yet: in a pre-activation ResNet the
    stem convolution feeds the first block's BatchNorm and its residual sum, the sum is fused
    into the block's second convolution first, and then the BatchNorm is folded into the stem,
    whose single output (normalised) also becomes the shortcut. With one convolution per
    consumer every fusion is exact, for the price of the duplicated convolutions (here the
    3 -> 16 channel stem, under 1% of the network's multiply-adds).

    Parameters
    ----------
    sym : Symbol
        A float32 graph (not yet partitioned).

    Returns
    -------
    Symbol
        The same function, each convolution output read by at most one fusable operator.
    """
    graph = json.loads(sym.tojson())
    nodes = graph['nodes']
    consumers = defaultdict(list)  # node index -> [(consumer index, input position)]
    for index, node in enumerate(nodes):
        for position, entry in enumerate(node['inputs']):
            consumers[entry[0]].append((index, position))
    head_nodes = {head[0] for head in graph['heads']}
    split = {}  # (consumer index, input position) -> index of the copy it reads, in `nodes`
    copies = defaultdict(list)  # convolution index -> its copies (node dicts) in order
    for index, node in enumerate(nodes):
        users = consumers.get(index, [])
        if (node['op'] != 'Convolution' or len(users) + (index in head_nodes) < 2
                or not any(nodes[user]['op'] in _CONV_POST_OPS for user, _ in users)):
            continue
        for number, user in enumerate(users[1:], 1):
            copy = dict(node, name='%s_fanout%d' % (node['name'], number))
            copies[index].append(copy)
            split[user] = (index, number)
    if not split:
        return sym
    new_nodes, new_index = [], {}
    copy_index = {}
    for index, node in enumerate(nodes):
        node = dict(node)
        node['inputs'] = [
            [copy_index[split[(index, position)]] if (index, position) in split
             else new_index[entry[0]]] + list(entry[1:])
            for position, entry in enumerate(node['inputs'])]
        new_index[index] = len(new_nodes)
        new_nodes.append(node)
        for number, copy in enumerate(copies.get(index, []), 1):
            copy = dict(copy, inputs=node['inputs'])
            copy_index[(index, number)] = len(new_nodes)
            new_nodes.append(copy)
    graph['nodes'] = new_nodes
    graph['arg_nodes'] = [i for i, node in enumerate(new_nodes) if node['op'] == 'null']
    graph['heads'] = [[new_index[head[0]]] + list(head[1:]) for head in graph['heads']]
    graph.pop('node_row_ptr', None)
    return mx.sym.load_json(json.dumps(graph))


def graph_ops(block):
    """{operator name: count} of a SymbolBlock's graph (fused subgraphs counted as one)."""
    counts = defaultdict(int)
    for node in json.loads(_block_symbol(block).tojson())['nodes']:
        if node['op'] != 'null':
            counts[node['op']] += 1
    return dict(counts)


def float_layers(block):
    """What a quantized graph computes in float32: the names of its non-quantized compute
    operators (the quantize / dequantize conversions themselves left out), in graph order.

    Parameters
    ----------
    block : SymbolBlock
        A block :func:`quantize_model` returned.

    Returns
    -------
    list of (str, str)
        (operator, node name) pairs, e.g. ``('Activation', '..._chaatac0_sigmoid0_fwd')``; a
        fused oneDNN node is named after the layers it fuses (``conv1_fwd+batchnorm3_fwd``).
    """
    layers = []
    for node in json.loads(_block_symbol(block).tojson())['nodes']:
        op = node['op']
        if op == 'null' or op.startswith('_contrib_quantize') or op in (
                '_contrib_dequantize', '_contrib_requantize'):
            continue
        if op.startswith('_contrib_quantized_') or op == 'atac_int8_gate':  # int8 throughout
            continue
        if op.startswith('_sg_mkldnn') and node.get('attrs', {}).get('quantized') == 'true':
            continue
        name = node['name']
        if node.get('subgraphs'):
            name = '+'.join(inner['name'] for inner in node['subgraphs'][0]['nodes']
                            if inner['op'] != 'null')
        layers.append((op, name))
    return layers


def quantize_model(net, mode, calib_batches=None, ctx=mx.cpu(), calib_mode='naive',
                   num_calib_batches=None, exclude=None, log=None, quantize_mode='smart',
                   fuse_gates=False):
    """A low-precision (or fused float32) inference block of ``net``.

    Parameters
    ----------
    net : HybridBlock
        The float32 network, initialized (e.g. a loaded checkpoint); not modified.
    mode : str
        ``'int8'``, ``'bf16'`` or ``'fp32'`` (see the module docstring).
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
        float32, ``[r'chaatac\d+_conv1']`` only the gate convolutions).
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
                            _matching_nodes(sym, exclude or []), log, quantize_mode,
                            fuse_gates)
    block.hybridize(static_alloc=True, static_shape=True)
    return block


def _matching_nodes(sym, patterns):
    """Names of the operator nodes of ``sym`` that one of the regular expressions matches."""
    regexes = [re.compile(pattern) for pattern in patterns]
    names = [node['name'] for node in json.loads(sym.tojson())['nodes'] if node['op'] != 'null']
    return [name for name in names if any(regex.search(name) for regex in regexes)]


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


def _bf16_block(sym, arg_params, aux_params, ctx):
    """bfloat16 mixed precision with AMP's lists (what ``amp.convert_hybrid_block`` does, on
    the repaired symbol): convolutions and the classifier in bfloat16, BatchNorm and pooling in
    the type of their input with float32 parameters, what the lists name float32 so; the ATAC
    gate's product (:data:`FLOAT_OPS`) in float32."""
    from mxnet.contrib import amp
    require_bf16()
    # AMP would run the gate product in bfloat16 (elemwise_mul takes its inputs' widest
    # type), on the default CPU kernels: 30 ms per multiply instead of 0.3
    products = [node['name'] for node in json.loads(sym.tojson())['nodes']
                if node['op'] in FLOAT_OPS]
    bf16_sym, bf16_args, bf16_auxs = amp.convert_model(sym, arg_params, aux_params,
                                                       target_dtype='bfloat16',
                                                       excluded_sym_names=products,
                                                       cast_optional_params=True)
    return _symbol_block(bf16_sym, bf16_args, bf16_auxs, ctx)


def require_bf16():
    """BadInput saying why unless :func:`bf16_supported`."""
    if not bf16_supported():
        raise BadInput('bf16: this CPU has no oneDNN bfloat16 convolutions (MXNet 1.9.1\'s '
                       'oneDNN needs AVX-512; the CPU offers %s)' % _cpu_isa())


def _cpu_isa():
    """The widest x86 vector extension /proc/cpuinfo lists (for messages)."""
    flags = cpu_flags()
    if not flags:
        return 'an unknown instruction set'
    for isa in ('avx512_bf16', 'avx512f', 'avx2', 'avx'):
        if isa in flags:
            return isa.upper().replace('_', '-')
    return 'no AVX'


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
    with _quiet_stderr():  # the pass logs every operator it leaves in float32 (C++ INFO)
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


def fuse_int8_gates(qsym):
    """``qsym`` (a calibrated int8 graph) with each ATAC gate's float32 island -- dequantize
    the gate's logits, sigmoid, dequantize x, multiply, quantize the product -- replaced by one
    ``atac_int8_gate`` node of :mod:`atac_gluon.ops` (loaded here, built if needed) that takes
    the int8 tensors and the product's calibrated range. Returns (symbol, gates fused).

    A gate whose product has other consumers than its quantize node is left as it is.
    """
    from . import ops
    ops.load()
    graph = json.loads(qsym.tojson())
    nodes = graph['nodes']
    consumers = defaultdict(list)
    for index, node in enumerate(nodes):
        for source, _, _ in node['inputs']:
            consumers[source].append(index)
    for head, _, _ in graph['heads']:
        consumers[head].append(None)

    def op(index, name, **attrs):
        node = nodes[index]
        return node['op'] == name and all(node.get('attrs', {}).get(k) == v
                                          for k, v in attrs.items())
    count = 0
    for index, node in enumerate(nodes):
        attrs = node.get('attrs', {})
        # the operator picks int8 / uint8 from the calibrated range, as out_type 'auto' does
        if (node['op'] != '_contrib_quantize_v2' or 'min_calib_range' not in attrs
                or attrs.get('out_type', 'auto') != 'auto'):
            continue
        product = node['inputs'][0][0]
        if not op(product, 'elemwise_mul') or consumers[product] != [index]:
            continue
        first, second = (source for source, _, _ in nodes[product]['inputs'])
        sigmoid, x = (second, first) if op(second, 'Activation') else (first, second)
        if not (op(sigmoid, 'Activation', act_type='sigmoid')
                and consumers[sigmoid] == [product]
                and op(x, '_contrib_dequantize')
                and op(nodes[sigmoid]['inputs'][0][0], '_contrib_dequantize')):
            continue
        logits = nodes[sigmoid]['inputs'][0][0]
        nodes[index] = {'op': 'atac_int8_gate', 'name': node['name'] + '_atac_gate',
                        'attrs': {'min_calib_range': attrs['min_calib_range'],
                                  'max_calib_range': attrs['max_calib_range']},
                        'inputs': nodes[logits]['inputs'] + nodes[x]['inputs']}
        count += 1
    # the nodes the gates replaced are no longer reachable from the outputs: loading drops them
    return mx.sym.load_json(json.dumps(graph)), count


#: operators left in float32: the ATAC gate's product (see the module docstring)
FLOAT_OPS = ['elemwise_mul']

#: MXNet's 'auto': uint8 where the calibrated range is non-negative (after a ReLU), int8
#: elsewhere
QUANTIZED_DTYPE = 'auto'

#: histogram bins of the entropy calibration (odd, as MXNet requires): MXNet's default 8001
#: costs 0.7 s of KL search per layer (about 90 s for ResNet-20); TensorRT's calibrator uses
#: 2048, and 2047 takes about 16 times less
ENTROPY_BINS = 2047


@contextmanager
def _quiet_stderr():
    """Send what MXNet's C++ code writes to stderr (file descriptor 2) to a temporary file
    while the block runs; Python's own ``sys.stderr`` is flushed before and unaffected after."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _block_symbol(block):
    """The symbol of a SymbolBlock (its output on ``data``)."""
    return block(mx.sym.var('data'))


def predict_batches(block, batches, ctx=mx.cpu()):
    """Logits of ``block`` on every batch of ``batches`` ((data, label) or data), concatenated
    into one float32 numpy array."""
    outputs = []
    for batch in batches:
        data = batch[0] if isinstance(batch, (tuple, list)) else batch
        data = mx.nd.array(data, ctx=ctx) if not isinstance(data, mx.nd.NDArray) else \
            data.as_in_context(ctx)
        outputs.append(block(data.astype('float32', copy=False)).astype('float32').asnumpy())
    return np.concatenate(outputs)


def evaluate_accuracy(block, batches, ctx=mx.cpu()):
    """Top-1 accuracy of ``block`` over ``batches`` of (data, label).

    The loop of :func:`atac_gluon.training.loop.evaluate` for one context (this module sits
    below the training package and does not import it).

    Returns
    -------
    (float, int)
        Accuracy and the number of images.
    """
    metric = mx.metric.Accuracy()
    for data, label in batches:
        data = data if isinstance(data, mx.nd.NDArray) else mx.nd.array(data)
        label = label if isinstance(label, mx.nd.NDArray) else mx.nd.array(label)
        output = block(data.as_in_context(ctx).astype('float32', copy=False))
        metric.update([label.as_in_context(ctx)], [output.astype('float32', copy=False)])
    return metric.get()[1], metric.num_inst


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


def save_block(block, prefix, extra=None, copies=None):
    """Write ``block`` as ``<prefix>-symbol.json`` and ``<prefix>-0000.params`` (and each
    ``extra`` {suffix: text} as ``<prefix><suffix>``, each ``copies`` {suffix: file} copied to
    ``<prefix><suffix>``), all or none: staged in a temporary directory beside ``prefix`` and
    renamed into place. Returns the paths."""
    def write(staged):
        sym = _block_symbol(block)
        sym.save(staged + '-symbol.json', remove_amp_cast=False)  # bf16 needs its casts
        auxs = set(sym.list_auxiliary_states())
        params = {('aux:%s' if name in auxs else 'arg:%s') % name: param._reduce()
                  for name, param in block.collect_params().items()}
        mx.nd.save(staged + '-0000.params', params)
        files = [staged + '-symbol.json', staged + '-0000.params']
        for suffix, text in (extra or {}).items():
            with open(staged + suffix, 'w') as f:
                f.write(text)
            files.append(staged + suffix)
        for suffix, source in (copies or {}).items():
            shutil.copyfile(source, staged + suffix)
            files.append(staged + suffix)
        return files
    return write_staged(prefix, write)


# --------------------------------------------------------------------------- data


def calibration_data(dataset, data_dir=None, batch_size=32, num_batches=10, input_size=224,
                     crop_ratio=0.875, fine_label=False, seed=0):
    """Calibration batches from the training split and the validation batches of a data set,
    both prepared as for validation (normalised, no augmentation; ImageNet resized and
    centre-cropped).

    The calibration images are the first ``num_batches * batch_size`` of a seeded permutation
    of the training split: real inputs the network was fitted on, none of the validation
    images the accuracy is then measured on.

    Parameters
    ----------
    dataset : str
        ``'cifar10'``, ``'cifar100'``, ``'digits'`` or ``'imagenet'`` (image folders
        ``<data_dir>/train/<class>/*`` and ``<data_dir>/val/<class>/*``).
    data_dir : str, optional
        Where the data set is: CIFAR as for :func:`~atac_gluon.data.cifar.load_cifar` (None:
        MXNet's directory), required for ImageNet, refused for digits (bundled).
    batch_size, num_batches : int
        Calibration batches (the validation batches have ``batch_size`` too).
    input_size, crop_ratio : int, float
        ImageNet only: network input side and validation crop ratio.
    fine_label : bool
        CIFAR-100: the 100 fine labels instead of the 20 coarse ones.
    seed : int
        Seed of the permutation the calibration images are drawn from.

    Returns
    -------
    calib : list of (NDArray, NDArray)
        At most ``num_batches`` batches (fewer if the split is smaller).
    val : iterable of (NDArray, NDArray)
        The whole validation split.
    num_classes : int
        Labels of the data set (CIFAR-100 coarse: 20).
    """
    from .data.batches import BatchIterator
    if dataset not in CALIB_DATASETS:
        raise BadInput('unknown calibration data set %r; valid: %s'
                       % (dataset, ', '.join(CALIB_DATASETS)))
    for name, value in (('batch_size', batch_size), ('num_batches', num_batches)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadInput('%s must be a positive integer, got %r' % (name, value))
    if dataset == 'imagenet':
        return _imagenet_data(data_dir, batch_size, num_batches, input_size, crop_ratio, seed)
    if dataset == 'digits':
        from .data.digits import DIGITS_NUM_CLASSES, load_digits32
        if data_dir is not None:
            raise BadInput('digits are bundled with scikit-learn: they take no data directory')
        train, val = load_digits32(train=True), load_digits32(train=False)
        options, num_classes = {}, DIGITS_NUM_CLASSES
    else:
        from .data.cifar import CIFAR_MEAN, CIFAR_STD, cifar_num_classes, load_cifar
        train = load_cifar(dataset, data_dir, train=True, fine_label=fine_label)
        val = load_cifar(dataset, data_dir, train=False, fine_label=fine_label)
        options = {'mean': CIFAR_MEAN, 'std': CIFAR_STD}
        num_classes = cifar_num_classes(dataset, fine_label)
    order = np.random.RandomState(seed).permutation(len(train[0]))[:batch_size * num_batches]
    calib = list(BatchIterator(train[0][order], train[1][order], batch_size,
                               last_batch='keep', **options))
    val_batches = BatchIterator(*val, batch_size=batch_size, last_batch='keep', **options)
    return calib, val_batches, num_classes


def _imagenet_data(data_dir, batch_size, num_batches, input_size, crop_ratio, seed):
    from mxnet.gluon.data import DataLoader
    from .data.imagenet import FolderBatches, _open_folder, folder_val_transform
    if data_dir is None:
        raise BadInput('imagenet calibration needs the image folders\' directory '
                       '(<dir>/train/<class>/*.jpg and <dir>/val/<class>/*.jpg)')
    data_dir = os.path.expanduser(data_dir)
    train = _open_folder(os.path.join(data_dir, 'train'))
    val = _open_folder(os.path.join(data_dir, 'val'))
    if val.synsets != train.synsets:
        raise BadInput('%s: class folders differ from those of %s'
                       % (os.path.join(data_dir, 'val'), os.path.join(data_dir, 'train')))
    transform = folder_val_transform(input_size, crop_ratio)
    order = np.random.RandomState(seed).permutation(len(train))[:batch_size * num_batches]
    subset = mx.gluon.data.SimpleDataset([train[int(i)] for i in order])
    calib = list(FolderBatches(DataLoader(subset.transform_first(transform),
                                          batch_size=batch_size), len(subset)))
    val_batches = FolderBatches(DataLoader(val.transform_first(transform),
                                           batch_size=batch_size), len(val))
    return calib, val_batches, len(train.synsets)


# --------------------------------------------------------------------------- bf16 support

_BF16 = {}


def bf16_supported():
    """Whether this CPU runs oneDNN bfloat16 convolutions (MXNet 1.9.1's oneDNN 2.4 needs
    AVX-512; on an AVX2-only CPU creating the primitive fails). Probed once with a small 3x3
    convolution."""
    if 'ok' not in _BF16:
        from mxnet.contrib import amp
        data, weight = mx.sym.var('data'), mx.sym.var('weight')
        sym = mx.sym.Convolution(data, weight, kernel=(3, 3), pad=(1, 1), num_filter=16,
                                 no_bias=True)
        try:
            with _quiet_stderr():  # oneDNN's failure is also logged
                bf16, args, _ = amp.convert_model(sym, {'weight': mx.nd.ones((16, 16, 3, 3))},
                                                  {}, target_dtype='bfloat16',
                                                  cast_optional_params=True)
                block = _symbol_block(bf16, args, {}, mx.cpu())
                block(mx.nd.ones((1, 16, 8, 8))).wait_to_read()
            _BF16['ok'] = True
        except mx.base.MXNetError:
            _BF16['ok'] = False
    return _BF16['ok']
