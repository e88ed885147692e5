"""Export for deployment: MXNet symbol graphs (``<prefix>-symbol.json`` + ``<prefix>-0000.params``,
input named ``data``) and ONNX (``<prefix>.onnx``).

Command line, for any saved checkpoint (official-layout ones included)::

    python -m atac_gluon.export --model resnet50_v1b_atac --r 2 --act-layers 2 \
        --params 0.2141-imagenet-ResNet50_v1b_ChaATAC-155-best.params --prefix atac50 --onnx
"""
import argparse
import os
import shutil
import sys
import tempfile

import mxnet as mx
import numpy as np

from .checks import check_numbers, check_prefix, int_range
from .models import canonical_name, get_model, list_models, model_factory
from .errors import BadInput, WriteFailed, run_main
from .training.runtime import load_parameters_checked

__all__ = ['export_symbol', 'export_onnx', 'export_all', 'require_onnx', 'add_model_flags',
           'check_model_flags', 'model_from_flags', 'load_model', 'parse_shape',
           'default_input_shape', 'MODEL_FLAGS']

#: the flags of :func:`add_model_flags`: a checkpoint that does not fit names those that fix it
MODEL_FLAGS = ('--model', '--classes', '--act-type', '--r', '--act-layers', '--useReLU',
               '--useGlobal')


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


def parse_shape(text, flag='--input-shape'):
    """``'1,3,32,32'`` -> (1, 3, 32, 32); BadInput naming ``flag`` otherwise."""
    try:
        shape = tuple(int(v) for v in text.split(','))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) <= 0:
        raise BadInput('%s must be four positive integers N,C,H,W, got %r' % (flag, text))
    return shape


def default_input_shape(model):
    """Input shape of one image for registered model ``model`` (any case): 1,3,32,32 for the
    CIFAR family, 1,3,224,224 for ImageNet."""
    return model_factory(model).input_shape


def add_model_flags(parser):
    """The flags that choose a registered model and its variant (defaults: the zoo's)."""
    parser.add_argument('--model', required=True, metavar='NAME',
                        help='registered model: %s' % ', '.join(list_models()))
    parser.add_argument('--classes', type=int, default=None, help='number of classes')
    parser.add_argument('--act-type', default=None, help='activation (default ChaATAC)')
    parser.add_argument('--r', type=int, default=None, help='ChaATAC reduction ratio')
    parser.add_argument('--act-layers', type=int, default=None,
                        help='stages with act-type (zoo default: 4 for CIFAR, 2 for ImageNet)')
    parser.add_argument('--useReLU', action=argparse.BooleanOptionalAction, default=None,
                        help='ChaATAC inner ReLU (zoo default: on; train_cifar.py: off unless '
                             '--useReLU was given)')
    parser.add_argument('--useGlobal', action=argparse.BooleanOptionalAction, default=None,
                        help='ChaATAC global pooling (default: off)')


def check_model_flags(args):
    """Check the flags of :func:`add_model_flags` and every other numeric flag of ``args`` by
    the shared table; sets ``args.model`` to the registered (lower-case) name. BadInput names
    the first bad flag."""
    try:
        args.model = canonical_name(args.model)
    except BadInput:
        raise BadInput('--model: unknown model %r; valid: %s'
                       % (args.model, ', '.join(list_models()))) from None
    check_numbers(args, {'act_layers': int_range(0, model_factory(args.model).max_act_layers)})


def model_from_flags(args):
    """The uninitialized model the flags of :func:`add_model_flags` describe."""
    check_model_flags(args)
    kwargs = {name: getattr(args, name) for name in
              ('classes', 'act_type', 'r', 'act_layers', 'useReLU', 'useGlobal')
              if getattr(args, name) is not None}
    return get_model(args.model, **kwargs)


def load_model(args, ctx=None):
    """Model from the flags with the parameters of ``args.params`` (BadInput on mismatch)."""
    if not os.path.isfile(args.params):
        raise BadInput('--params %s: no such file' % args.params)
    net = model_from_flags(args)
    load_parameters_checked(net, args.params, '--params', ctx or mx.cpu(), MODEL_FLAGS)
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m atac_gluon.export',
                                     description='Export a checkpoint as a symbol graph (and ONNX).')
    add_model_flags(parser)
    parser.add_argument('--params', required=True, help='checkpoint (.params) to export')
    parser.add_argument('--prefix', required=True,
                        help='output prefix: <prefix>-symbol.json, <prefix>-0000.params, '
                             '<prefix>.onnx')
    parser.add_argument('--onnx', action='store_true', help='also write <prefix>.onnx')
    parser.add_argument('--input-shape', default=None,
                        help='N,C,H,W (default 1,3,32,32 for cifar_* models, else 1,3,224,224)')
    args = parser.parse_args(argv)
    check_model_flags(args)
    shape = (parse_shape(args.input_shape) if args.input_shape
             else default_input_shape(args.model))
    if shape[1] != 3:
        raise BadInput('--input-shape %s: the model takes 3 input channels' % args.input_shape)
    if args.onnx:
        require_onnx('--onnx')
    check_prefix(args.prefix, '--prefix', ('-symbol.json', '-0000.params')
                 + (('.onnx',) if args.onnx else ()))
    net = load_model(args)
    for path in export_all(net, args.prefix, shape, onnx=args.onnx):
        print(path)


if __name__ == '__main__':
    sys.exit(run_main(main))
