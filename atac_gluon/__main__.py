"""Model summary from the command line: ``python -m atac_gluon --model NAME``."""
import argparse

import mxnet as mx

from .flops import summary
from .models import get_model, list_models


def main(argv=None):
    """``python -m atac_gluon --model NAME [--input-shape 1,3,224,224] [--classes N]``."""
    parser = argparse.ArgumentParser(prog='python -m atac_gluon',
                                     description='FLOPs and parameters of a registered model.')
    parser.add_argument('--model', required=True, choices=list_models(), metavar='NAME',
                        help='one of: %s' % ', '.join(list_models()))
    parser.add_argument('--input-shape', default=None,
                        help='N,C,H,W (default 1,3,32,32 for cifar_* models, else 1,3,224,224)')
    parser.add_argument('--classes', type=int, default=None, help='number of classes')
    args = parser.parse_args(argv)
    shape = args.input_shape or ('1,3,32,32' if args.model.startswith('cifar') else '1,3,224,224')
    try:
        shape = tuple(int(v) for v in shape.split(','))
        if len(shape) != 4 or min(shape) <= 0:
            raise ValueError
    except ValueError:
        parser.error('--input-shape must be four positive integers N,C,H,W, got %r'
                     % args.input_shape)
    kwargs = {} if args.classes is None else {'classes': args.classes}
    net = get_model(args.model, **kwargs)
    net.initialize()
    summary(net, mx.nd.zeros(shape))


if __name__ == '__main__':
    main()
