"""Deployment files: MXNet symbol graphs (``<prefix>-symbol.json`` + ``<prefix>-0000.params``,
input named ``data``) and ONNX (``<prefix>.onnx``: input ``data`` of any batch size, the
weights as initializers). The command line is :mod:`atac_gluon.export`; the training scripts'
``--export`` uses :func:`export_all`; :func:`save_block` writes a SymbolBlock (the graphs of
``--quantize``).
"""
import collections
import importlib
import shutil

import mxnet as mx
import numpy as np

from .errors import BadInput
from .files import write_staged
from .onednn import settle_weights

__all__ = ['export_symbol', 'export_onnx', 'export_all', 'require_onnx', 'save_block']


def export_symbol(net, prefix, input_shape, ctx=None):
    """Hybridize ``net``, run it once on zeros of ``input_shape`` and export it.

    Parameters
    ----------
    net : HybridBlock
        An initialized network.
    prefix : str
        Output path prefix; files are ``<prefix>-symbol.json`` and ``<prefix>-0000.params``.
    input_shape : tuple of int
        Shape of one input batch, e.g. ``(1, 3, 32, 32)``.
    ctx : Context, optional
        Where to run the tracing pass (default CPU).

    Returns
    -------
    (str, str)
        Paths of the symbol file and the parameter file.
    """
    net.hybridize()
    net(mx.nd.zeros(input_shape, ctx=ctx or mx.cpu()))
    settle_weights()
    net.export(prefix, epoch=0)  # a single input is exported under the name 'data'
    return prefix + '-symbol.json', prefix + '-0000.params'


def require_onnx(flag):
    """BadInput naming ``flag`` unless the onnx package (the ``[onnx]`` extra) is installed."""
    try:
        importlib.import_module('onnx')
    except ImportError:
        raise BadInput('%s needs the onnx package: pip install "atac-gluon[onnx]"' % flag)


ONNX_BATCH = 'batch'
"""Name of the symbolic batch dimension of the ONNX files' ``data`` input and outputs."""

ONNX_OPSET = 13
"""Opset the ONNX files declare: MXNet 1.9.1's exporter translates every operator with its
opset-12/13 translations, whatever opset it declares (the onnx package's newest, 19 with onnx
1.14), so 13 is the truthful one (and runtimes that stop before 19 load the file)."""


def export_onnx(symbol_file, params_file, input_shape, onnx_file):
    """Convert an exported symbol graph to ONNX with MXNet's exporter; returns ``onnx_file``.

    The file is ready for deployment: its only graph input is ``data``, of shape
    ``(batch, C, H, W)`` with a symbolic batch dimension (``'batch'``: any batch size), the
    outputs are ``(batch, ...)``, the weights are initializers (constants a runtime can fold and
    fuse), and every BatchNormalization that follows a convolution is folded into it.

    MXNet's exporter alone would list every weight as a graph input too (onnxruntime then warns
    once per weight and cannot constant-fold them), fix the batch, and write the weights as
    protobuf lists of floats, slow in the pure-Python protobuf 3 it needs (a minute for
    ResNet-18's 11.7 million). So the exporter converts the graph only, every weight declared as
    an input, and the weights are added here as raw initializers, their inputs dropped. The
    exporter copies a Reshape's target shape as it is; the batch flows through these models'
    graphs, which end in Flatten (``nn.Flatten``, ``Dense(flatten=True)``), not in a Reshape.

    Parameters
    ----------
    symbol_file, params_file : str
        The files :func:`export_symbol` wrote (the network's input named ``data``).
    input_shape : tuple of int
        Shape of the ``data`` input the graph is traced with; the file takes any batch size.
    onnx_file : str
        Output path.
    """
    import onnx
    from onnx import helper

    sym = mx.sym.load(symbol_file)
    params = {name.split(':', 1)[-1]: array.asnumpy()
              for name, array in mx.nd.load(params_file).items()}
    names = sym.list_inputs()  # 'data', then the weights and BatchNorm statistics in graph order
    if [name for name in names if name not in params] != ['data']:
        raise ValueError('%s: the inputs besides the parameters must be just data, not %s'
                         % (symbol_file, [name for name in names if name not in params]))
    input_shape = tuple(input_shape)
    shapes = [input_shape if name == 'data' else params[name].shape for name in names]
    mx.onnx.export_model(sym, {}, shapes,
                         [np.float32 if name == 'data' else params[name].dtype for name in names],
                         onnx_file, dynamic=True,
                         dynamic_input_shapes=[(ONNX_BATCH,) + input_shape[1:] if name == 'data'
                                               else shape for name, shape in zip(names, shapes)])
    model = onnx.load(onnx_file)
    _fold_batchnorms(model.graph, params)
    _weights_as_initializers(model.graph, params)
    # the exporter's dynamic outputs have no sizes at all: the batch, then the traced ones
    _, out_shapes, _ = sym.infer_shape(data=input_shape)
    for value, shape in zip(model.graph.output, out_shapes):
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        dims.add().dim_param = ONNX_BATCH
        for size in shape[1:]:
            dims.add().dim_value = size
    del model.opset_import[:]
    model.opset_import.extend([helper.make_opsetid('', ONNX_OPSET)])
    model.ir_version = helper.find_min_ir_version_for(model.opset_import)
    model.producer_name, model.producer_version = 'mxnet', mx.__version__
    onnx.checker.check_model(model)
    onnx.save(model, onnx_file)
    return onnx_file


def _weights_as_initializers(graph, params):
    """The parameters the nodes read become initializers (raw data, in the order the nodes read
    them) and stop being graph inputs, which leaves just ``data``."""
    from onnx import numpy_helper
    kept = [value for value in graph.input if value.name not in params]
    del graph.input[:]
    graph.input.extend(kept)
    done = {tensor.name for tensor in graph.initializer}
    for node in graph.node:
        for name in node.input:
            if name in params and name not in done:
                graph.initializer.append(numpy_helper.from_array(params[name], name))
                done.add(name)


def _fold_batchnorms(graph, params):
    """Fold each BatchNormalization that is the only reader of a Conv's output into that Conv's
    weight and bias (in ``params``; the BatchNorm node goes): what a runtime does when it loads
    the file, done once. OpenCV's dnn needs it: when both inputs of an Add are Conv +
    BatchNorm (the ResNet-v1b projection shortcut), its own fusion of them computes garbage once
    the input shape changes (OpenCV 4.10: a ``cv2.dnn.Net`` is right at its first batch size
    only)."""
    readers = collections.Counter(name for node in graph.node for name in node.input)
    readers.update(value.name for value in graph.output)
    convs = {node.output[0]: node for node in graph.node if node.op_type == 'Conv'}
    folded = []
    for bn in graph.node:
        conv = convs.get(bn.input[0]) if bn.op_type == 'BatchNormalization' else None
        if (conv is None or len(bn.output) != 1 or readers[conv.output[0]] != 1
                or not all(name in params and readers[name] == 1
                           for name in list(conv.input[1:]) + list(bn.input[1:]))):
            continue
        eps = next((attr.f for attr in bn.attribute if attr.name == 'epsilon'), 1e-5)
        gamma, beta, mean, var = (params[name].astype(np.float64) for name in bn.input[1:5])
        scale = gamma / np.sqrt(var + eps)
        weight = params[conv.input[1]]
        bias = params[conv.input[2]].astype(np.float64) if len(conv.input) > 2 else 0.0
        params[conv.input[1]] = (weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
                                 ).astype(weight.dtype)
        if len(conv.input) < 3:
            conv.input.append(bn.input[2])  # the BatchNorm's beta becomes the Conv's bias
        params[conv.input[2]] = ((bias - mean) * scale + beta).astype(weight.dtype)
        conv.output[0] = bn.output[0]
        folded.append(bn)
    for bn in folded:
        graph.node.remove(bn)


def export_all(net, prefix, input_shape, onnx=True):
    """Symbol graph, and ONNX when ``onnx``: the files deployment needs; returns their paths.

    They are written in a temporary directory beside ``prefix`` and renamed into place, so a
    failure or a kill never leaves a partial export under the final names; a write error (disk
    full, unwritable directory) is WriteFailed.
    """
    _unit_fixed_gammas(net)

    def write(staged):
        files = list(export_symbol(net, staged, input_shape))
        if onnx:
            files.append(export_onnx(files[0], files[1], input_shape, staged + '.onnx'))
        return files
    return write_staged(prefix, write)


def save_block(block, prefix, extra=None, copies=None):
    """Write a SymbolBlock (e.g. a quantized graph) as ``<prefix>-symbol.json`` and
    ``<prefix>-0000.params`` (and each ``extra`` {suffix: text} as ``<prefix><suffix>``, each
    ``copies`` {suffix: file} copied to ``<prefix><suffix>``), all or none
    (:func:`~atac_gluon.files.write_staged`). Returns the paths."""
    def write(staged):
        sym = block(mx.sym.var('data'))
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


def _unit_fixed_gammas(net):
    """Set to 1 the gamma of every BatchNorm with ``scale=False`` (``fix_gamma``): MXNet ignores
    it, but MXNet 1.9.1's ONNX exporter multiplies by the stored value. Training keeps it at 1
    (no gradient); a checkpoint from elsewhere may not. MXNet's own output does not change."""
    def fix(block):
        if isinstance(block, mx.gluon.nn.BatchNorm) and block._kwargs.get('fix_gamma'):
            block.gamma.set_data(mx.nd.ones_like(block.gamma.data()))
    net.apply(fix)
