"""``python -m atac_gluon.export``: a checkpoint as a symbol graph (and ONNX) for deployment,
for any saved checkpoint (official-layout ones included)::

    python -m atac_gluon.export --model resnet50_v1b_atac --r 2 --act-layers 2 \
        --params 0.2141-imagenet-ResNet50_v1b_ChaATAC-155-best.params --prefix atac50 --onnx

The export functions themselves are in :mod:`atac_gluon.deployment`.

With ``--quantize int8|bf16|fp32`` the symbol graph is instead the low-precision (or fused
float32) inference graph of :mod:`atac_gluon.quantization`, calibrated on the training split of
``--calib-dataset`` (int8), with its validation accuracy beside the float32 network's printed
and written to ``<prefix>-quantization.json``::

    python -m atac_gluon.export --model cifar_resnet20_v2_atac --useReLU --params best.params \
        --prefix r20-int8 --quantize int8 --calib-dataset cifar10 --calib-data-dir ~/cifar

``--fuse-gates`` (int8) computes each ATAC gate with one int8 operator of :mod:`atac_gluon.ops`
instead of five float32 ones (1.4x the int8 speed of ResNet-20 ATAC here) and writes that
operator's library beside the graph as ``<prefix>-ops.so``: load it before the graph, with
``mx.library.load('<prefix>-ops.so')`` or ``atac_gluon.ops.load('<prefix>-ops.so')``.
"""
import argparse
import json
import os
import sys

from .checks import POSITIVE_INT, check_prefix
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
    add_quantize_flags(parser)
    args = parser.parse_args(argv)
    check_model_flags(args)
    shape = (parse_shape(args.input_shape) if args.input_shape
             else default_input_shape(args.model))
    if shape[1] != 3:
        raise BadInput('--input-shape %s: the model takes 3 input channels' % args.input_shape)
    if args.quantize is not None:
        return export_quantized_main(args, shape)
    check_quantize_flags(args)
    if args.onnx:
        require_onnx('--onnx')
    check_prefix(args.prefix, '--prefix', ('-symbol.json', '-0000.params')
                 + (('.onnx',) if args.onnx else ()))
    net = load_model(args)
    for path in export_all(net, args.prefix, shape, onnx=args.onnx):
        print(path)


# --------------------------------------------------------------------------- --quantize

#: the flags of --quantize and their defaults (given without --quantize they are refused)
_QUANTIZE_DEFAULTS = {'calib_dataset': None, 'calib_data_dir': None, 'num_calib_batches': 10,
                      'calib_batch_size': 32, 'calib_mode': 'naive', 'quantize_mode': 'smart',
                      'fine_label': False, 'fuse_gates': False}


def add_quantize_flags(parser):
    """``--quantize`` and the calibration flags."""
    group = parser.add_argument_group('low-precision export (--quantize)')
    group.add_argument('--quantize', default=None, metavar='MODE',
                       help='export the int8 (calibrated), bf16 (oneDNN bfloat16; needs an '
                            'AVX-512 CPU) or fp32 (fused for oneDNN) inference graph instead, '
                            'and report its validation accuracy')
    group.add_argument('--calib-dataset', default=None, metavar='NAME',
                       help='data set of the calibration (its training split) and of the '
                            'accuracy report (its validation split): cifar10, cifar100, digits, '
                            'fashion-mnist, imagenet (image folders, --calib-data-dir)')
    group.add_argument('--calib-data-dir', default=None, metavar='DIR',
                       help='where the data set is: CIFAR files (default MXNet\'s directory), '
                            'Fashion-MNIST\'s IDX files (default Debian\'s) or the ImageNet '
                            'folders DIR/train/<class>/*, DIR/val/<class>/*')
    group.add_argument('--num-calib-batches', type=int, default=None, metavar='N',
                       help='calibration batches (default %d)'
                            % _QUANTIZE_DEFAULTS['num_calib_batches'])
    group.add_argument('--calib-batch-size', type=int, default=None, metavar='N',
                       help='images per calibration and validation batch (default %d)'
                            % _QUANTIZE_DEFAULTS['calib_batch_size'])
    group.add_argument('--calib-mode', default=None, metavar='MODE',
                       help='int8 thresholds: naive (min/max, default) or entropy (KL)')
    group.add_argument('--quantize-mode', default=None, metavar='MODE',
                       help='int8: smart (default: the input stays float32) or full')
    group.add_argument('--fine-label', action='store_true', default=None,
                       help='cifar100: the 100 fine labels (default the 20 coarse ones)')
    group.add_argument('--fuse-gates', action='store_true', default=None,
                       help='int8: each ATAC gate as one int8 operator of atac_gluon.ops '
                            '(built here with a C++ compiler) instead of float32 operators; '
                            'writes it as <prefix>-ops.so, which must be loaded '
                            '(mx.library.load) before the graph')


def check_quantize_flags(args):
    """BadInput for a calibration flag without --quantize, or a bad value with it."""
    if args.quantize is None:
        for dest in _QUANTIZE_DEFAULTS:
            if getattr(args, dest) is not None:
                raise BadInput('--%s needs --quantize' % dest.replace('_', '-'))
        return
    from .data.pipelines import CALIB_DATASETS
    from .quantization import CALIB_MODES, MODES, QUANTIZE_MODES
    _check_choice('--quantize', args.quantize, MODES)
    if args.onnx:
        raise BadInput('--onnx exports the float32 graph: MXNet cannot convert a --quantize '
                       'graph to ONNX; drop one of them')
    if args.calib_dataset is None:
        raise BadInput('--quantize needs --calib-dataset (%s): the calibration and the '
                       'accuracy report run on it' % ', '.join(CALIB_DATASETS))
    _check_choice('--calib-dataset', args.calib_dataset, CALIB_DATASETS)
    for dest, default in _QUANTIZE_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    _check_choice('--calib-mode', args.calib_mode, CALIB_MODES)
    _check_choice('--quantize-mode', args.quantize_mode, QUANTIZE_MODES)
    for dest in ('num_calib_batches', 'calib_batch_size'):
        POSITIVE_INT.check('--' + dest.replace('_', '-'), getattr(args, dest))
    if args.calib_dataset == 'imagenet' and args.calib_data_dir is None:
        raise BadInput('--calib-dataset imagenet needs --calib-data-dir DIR (image folders '
                       'DIR/train/<class>/* and DIR/val/<class>/*)')
    if args.calib_dataset == 'digits' and args.calib_data_dir is not None:
        raise BadInput('--calib-data-dir: digits are bundled with scikit-learn, drop it')
    if args.fine_label and args.calib_dataset != 'cifar100':
        raise BadInput('--fine-label is for --calib-dataset cifar100')
    if args.fuse_gates and args.quantize != 'int8':
        raise BadInput('--fuse-gates is for --quantize int8 (the fused gate is an int8 '
                       'operator)')


def _check_choice(flag, value, valid):
    if value not in valid:
        raise BadInput('%s: unknown value %r; valid: %s' % (flag, value, ', '.join(valid)))


def export_quantized_main(args, shape):
    """``--quantize``: calibrate, export, report; prints the paths and the accuracy line."""
    import mxnet as mx
    from . import ops
    from .data.pipelines import calibration_data
    from .deployment import save_block
    from .evaluation import evaluate_accuracy
    from .onednn import require_bf16
    from .quantization import float_layers, graph_ops, quantize_model
    check_quantize_flags(args)
    if args.quantize == 'bf16':
        require_bf16()  # before any data is read
    suffixes = ('-symbol.json', '-0000.params', '-quantization.json') + (
        ('-ops.so',) if args.fuse_gates else ())
    check_prefix(args.prefix, '--prefix', suffixes)
    library = ops.load() if args.fuse_gates else None  # built before any data is read
    net = load_model(args)
    calib, val, num_classes = calibration_data(
        args.calib_dataset, args.calib_data_dir, args.calib_batch_size, args.num_calib_batches,
        input_size=shape[2], fine_label=args.fine_label)
    outputs = net(mx.nd.zeros((1,) + tuple(calib[0][0].shape[1:]))).shape[1]
    coarse = args.calib_dataset == 'cifar100' and not args.fine_label and outputs == 100
    if outputs != num_classes and not coarse:  # coarse CIFAR-100: 20 labels, 100-way (official)
        raise BadInput('--calib-dataset %s has %d classes but the model has %d outputs '
                       '(--classes)' % (args.calib_dataset, num_classes, outputs))
    block = quantize_model(net, args.quantize, calib, calib_mode=args.calib_mode,
                           quantize_mode=args.quantize_mode, fuse_gates=args.fuse_gates)
    net.hybridize(static_alloc=True, static_shape=True)
    fp32_accuracy, _ = evaluate_accuracy(net, val)
    accuracy, images = evaluate_accuracy(block, val)
    line = ('%s: validation accuracy %.4f (fp32 %.4f, %+.4f) on %s, %d images'
            % (args.quantize, accuracy, fp32_accuracy, accuracy - fp32_accuracy,
               args.calib_dataset, images))
    report = {
        'mode': args.quantize, 'model': args.model, 'params': args.params,
        'calib_dataset': args.calib_dataset, 'calib_split': 'train',
        'calib_batches': len(calib), 'calib_batch_size': args.calib_batch_size,
        'calib_images': sum(len(batch[0]) for batch in calib),
        'calib_mode': args.calib_mode if args.quantize == 'int8' else None,
        'quantize_mode': args.quantize_mode if args.quantize == 'int8' else None,
        'validation_images': images, 'accuracy': accuracy, 'fp32_accuracy': fp32_accuracy,
        'accuracy_change': accuracy - fp32_accuracy,
        'float32_layers': ['%s %s' % layer for layer in float_layers(block)]
        if args.quantize == 'int8' else None,
        'operators': graph_ops(block), 'summary': line,
        'operator_library': (os.path.basename(args.prefix) + '-ops.so') if library else None,
    }
    text = json.dumps(report, indent=1, sort_keys=True) + '\n'
    for path in save_block(block, args.prefix, {'-quantization.json': text},
                           {'-ops.so': library} if library else None):
        print(path)
    print(line)


def entry():
    """Console entry point (setup.py)."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
