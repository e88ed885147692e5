"""Model summary from the command line: ``python -m atac_gluon --model NAME [model flags]``."""
import argparse
import sys

import mxnet as mx

from .cli import (add_model_flags, check_model_flags, default_input_shape,
                     model_from_flags, parse_shape)
from .flops import summary
from .errors import run_main


def main(argv=None):
    """``python -m atac_gluon --model NAME [--input-shape 1,3,224,224] [--classes N] ...``."""
    parser = argparse.ArgumentParser(prog='python -m atac_gluon',
                                     description='FLOPs and parameters of a registered model.')
    add_model_flags(parser)
    parser.add_argument('--input-shape', default=None,
                        help='N,C,H,W (default 1,3,32,32 for cifar_* models, else 1,3,224,224)')
    args = parser.parse_args(argv)
    check_model_flags(args)
    shape = (parse_shape(args.input_shape) if args.input_shape
             else default_input_shape(args.model))
    net = model_from_flags(args)
    net.initialize()
    summary(net, mx.nd.zeros(shape))


def entry():
    """Console entry point (setup.py)."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
