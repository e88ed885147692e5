"""Deployment files: MXNet symbol graphs (``<prefix>-symbol.json`` + ``<prefix>-0000.params``,
input named ``data``) and ONNX (``<prefix>.onnx``). The command line is
:mod:`atac_gluon.export`; the training scripts' ``--export`` uses :func:`export_all`.
"""
import os
import shutil
import tempfile

import mxnet as mx
import numpy as np

from .errors import BadInput, WriteFailed

__all__ = ['export_symbol', 'export_onnx', 'export_all', 'require_onnx']


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
    net.export(prefix, epoch=0)  # a single input is exported under the name 'data'
    return prefix + '-symbol.json', prefix + '-0000.params'


def require_onnx(flag):
    """BadInput naming ``flag`` unless the onnx package (the ``[onnx]`` extra) is installed."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise BadInput('%s needs the onnx package: pip install "atac-gluon[onnx]"' % flag)


def export_onnx(symbol_file, params_file, input_shape, onnx_file):
    """Convert an exported symbol graph to ONNX with MXNet's exporter; returns ``onnx_file``.

    Parameters
    ----------
    symbol_file, params_file : str
        The files :func:`export_symbol` wrote.
    input_shape : tuple of int
        Shape of the ``data`` input (fixed in the ONNX graph).
    onnx_file : str
        Output path.
    """
    return mx.onnx.export_model(symbol_file, params_file, [tuple(input_shape)], [np.float32],
                                onnx_file)


def export_all(net, prefix, input_shape, onnx=True):
    """Symbol graph, and ONNX when ``onnx``: the files deployment needs; returns their paths.

    They are written in a temporary directory beside ``prefix`` and renamed into place, so a
    failure or a kill never leaves a partial export under the final names; a write error (disk
    full, unwritable directory) is WriteFailed.
    """
    _unit_fixed_gammas(net)
    out_dir = os.path.dirname(os.path.abspath(prefix))
    try:
        staging = tempfile.mkdtemp(prefix='export.partial.', dir=out_dir)
    except OSError as err:
        raise WriteFailed('cannot write the export in %s (%s)' % (out_dir, err.strerror)) from None
    try:
        staged = os.path.join(staging, os.path.basename(prefix))
        files = list(export_symbol(net, staged, input_shape))
        if onnx:
            files.append(export_onnx(files[0], files[1], input_shape, staged + '.onnx'))
        final = [prefix + path[len(staged):] for path in files]
        for path, target in zip(files, final):
            os.replace(path, target)
    except OSError as err:
        raise WriteFailed('cannot write the export %s (%s)' % (prefix, err.strerror)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _unit_fixed_gammas(net):
    """Set to 1 the gamma of every BatchNorm with ``scale=False`` (``fix_gamma``): MXNet ignores
    it, but MXNet 1.9.1's ONNX exporter multiplies by the stored value. Training keeps it at 1
    (no gradient); a checkpoint from elsewhere may not. MXNet's own output does not change."""
    def fix(block):
        if isinstance(block, mx.gluon.nn.BatchNorm) and block._kwargs.get('fix_gamma'):
            block.gamma.set_data(mx.nd.ones_like(block.gamma.data()))
    net.apply(fix)
