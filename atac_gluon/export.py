"""``python -m atac_gluon.export``: a checkpoint as a symbol graph (and ONNX) for deployment,
for any saved checkpoint (official-layout ones included)::

    python -m atac_gluon.export --model resnet50_v1b_atac --r 2 --act-layers 2 \
        --params 0.2141-imagenet-ResNet50_v1b_ChaATAC-155-best.params --prefix atac50 --onnx

The export functions themselves are in :mod:`atac_gluon.deployment`.
"""
import argparse
import sys

from .checks import check_prefix
from .cli import add_model_flags, check_model_flags, default_input_shape, load_model, parse_shape
from .deployment import export_all, require_onnx
from .errors import BadInput, run_main

__all__ = ['main']


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


def entry():
    """Console entry point (setup.py)."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
