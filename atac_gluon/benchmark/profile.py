"""Where the time of a step goes: MXNet's profiler over the benchmark's fp32 hybridized step,
aggregated per operator and per kind of operator.

    python -m atac_gluon.benchmark.profile --out profile.json            # ResNet-20 ATAC, train
    python -m atac_gluon.benchmark.profile --mode inference --act-type relu --out -

The step is the benchmark's (:func:`atac_gluon.benchmark.mxnet_runs.time_net`: forward, loss,
backward, the loss read back, NAG ``trainer.step``). Bulk execution is turned off
(``MXNET_EXEC_BULK_EXEC_TRAIN`` / ``_INFERENCE`` = 0) so that each operator is timed on its own
rather than as one segment of up to 15; a step is then a little slower. An operator's time
includes the oneDNN layout reorders MXNet inserts around it when it has no oneDNN kernel (the
ATAC gate's multiply among them).

Exit codes: 0 done, 2 bad flag.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from ..checks import POSITIVE_INT, check_numbers, check_prefix
from ..errors import run_main
from ..training.threads import configure_cpu_threads
from .plan import BLOCKS, MAIN_MODEL, R50_MODEL, Settings, cifar_model
from .report import write_json

__all__ = ['main', 'entry', 'profile_step', 'KINDS']

#: kind -> the operators it sums (forward and backward); the rest is 'other'
KINDS = (
    ('convolution', ('Convolution', '_backward_Convolution')),
    # elemwise_mul for the local unit, broadcast_mul for the global (SE-style) one; atac_gate
    # (--fused-gates) also takes the sigmoid
    ('ATAC gate multiply', ('elemwise_mul', '_backward_mul', 'broadcast_mul',
                            '_backward_broadcast_mul', 'atac_gate', '_backward_atac_gate')),
    ('BatchNorm', ('BatchNorm', '_backward_BatchNorm')),
    ('activations (sigmoid, ReLU)', ('Activation', '_backward_Activation')),
    ('gradient and residual sums', ('add_n', 'elemwise_add', '_backward_elemwise_add')),
    ('optimizer (NAG)', ('nag_mom_update', 'nag_update', 'mp_nag_mom_update')),
)
MODELS = tuple(cifar_model(b) for b in BLOCKS) + (R50_MODEL,)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m atac_gluon.benchmark.profile',
        description="Per-operator time of MXNet's fp32 hybridized training step (or "
                    "inference) of an ATAC network, from MXNet's profiler.")
    parser.add_argument('--model', default=MAIN_MODEL, choices=MODELS)
    parser.add_argument('--act-type', default='ChaATAC', choices=('ChaATAC', 'relu'))
    parser.add_argument('--mode', default='train', choices=('train', 'inference'))
    parser.add_argument('--fused-gates', action='store_true',
                        help="the local ATAC units' sigmoid and product in one operator "
                             '(atac_gluon.activations.set_fused_gates), as train_cifar '
                             '--fused-gates')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--steps', type=int, default=5, help='profiled steps (after 3 '
                                                               'untimed ones; default 5)')
    parser.add_argument('--cpu-threads', type=int, default=None,
                        help='OpenMP threads (default: all available cores)')
    parser.add_argument('--out', default='profile.json', metavar='FILE.json',
                        help='the JSON result (default %(default)s; "-" writes none)')
    args = parser.parse_args(argv)
    check_numbers(args, {'steps': POSITIVE_INT})  # --batch-size, --cpu-threads: the project's
    args.out = None if args.out == '-' else args.out
    if args.out:
        check_prefix(args.out, '--out', ('',))
    return args


def profile_step(spec, steps, warmup=3):
    """Profile ``steps`` calls of the benchmark's step for ``spec`` (model, act_type, classes,
    image_size, batch, mode, fused_gates) after ``warmup`` untimed ones. Returns (step seconds measured
    while profiling, {operator: {'count', 'total_ms'}} over the ``steps``)."""
    import mxnet as mx
    from .mxnet_runs import batch_of, build_net, step_function
    net = build_net(spec)
    if spec.get('fused_gates'):
        from ..activations import set_fused_gates
        set_fused_gates(net)
    net.hybridize(static_alloc=True, static_shape=True)
    x, y = batch_of(spec)
    step, sync = step_function(net, spec, x, y)
    for _ in range(warmup):
        step()
        sync()
    scratch = tempfile.mkdtemp(prefix='atac-profile-')
    try:
        mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                               filename=os.path.join(scratch, 'trace.json'))
        mx.profiler.set_state('run')
        tic = time.perf_counter()
        for _ in range(steps):
            step()
            sync()
        seconds = (time.perf_counter() - tic) / steps
        mx.profiler.set_state('stop')
        stats = json.loads(mx.profiler.dumps(reset=True, format='json'))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    operators = stats.get('Time', {}).get('operator', {})
    return seconds, {name: {'count': int(v['Count']), 'total_ms': float(v['Total'])}
                     for name, v in operators.items()}


def summarise(operators, steps, step_seconds):
    """Per-step operator rows (largest first) and kinds, each with its share of the operators'
    total time."""
    total = sum(v['total_ms'] for v in operators.values()) or 1.0
    rows = [{'operator': name, 'calls_per_step': v['count'] / steps,
             'ms_per_step': v['total_ms'] / steps, 'share': v['total_ms'] / total}
            for name, v in operators.items()]
    rows.sort(key=lambda r: -r['ms_per_step'])
    kinds, claimed = [], set()
    for kind, names in KINDS:
        ms = sum(operators[n]['total_ms'] for n in names if n in operators)
        claimed.update(names)
        kinds.append({'kind': kind, 'ms_per_step': ms / steps, 'share': ms / total})
    other = sum(v['total_ms'] for n, v in operators.items() if n not in claimed)
    kinds.append({'kind': 'other', 'ms_per_step': other / steps, 'share': other / total})
    return {'step_ms': step_seconds * 1000.0, 'operators_ms_per_step': total / steps,
            'kinds': kinds, 'operators': rows}


def print_summary(spec, summary, threads):
    print('%s (%s), %s, batch %d, %d threads: %.1f ms per step (%.1f img/s) with bulk '
          'execution off; operators %.1f ms' % (
              spec['model'], spec['act_type'], spec['mode'], spec['batch'], threads,
              summary['step_ms'], spec['batch'] / summary['step_ms'] * 1000.0,
              summary['operators_ms_per_step']))
    print('\n| kind | ms/step | share |\n|---|---:|---:|')
    for row in summary['kinds']:
        print('| %s | %.1f | %.1f%% |' % (row['kind'], row['ms_per_step'], 100 * row['share']))
    print('\n| operator | calls/step | ms/step | share |\n|---|---:|---:|---:|')
    for row in summary['operators']:
        if row['share'] >= 0.001:
            print('| %s | %g | %.2f | %.1f%% |' % (row['operator'], row['calls_per_step'],
                                                  row['ms_per_step'], 100 * row['share']))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    threads = configure_cpu_threads(argv)
    # read when mxnet is imported (profile_step imports it; python -m has not yet)
    os.environ['MXNET_EXEC_BULK_EXEC_TRAIN'] = '0'
    os.environ['MXNET_EXEC_BULK_EXEC_INFERENCE'] = '0'
    spec = {'model': args.model, 'act_type': args.act_type, 'mode': args.mode,
            'fused_gates': args.fused_gates,
            'batch': args.batch_size, 'classes': 1000 if args.model == R50_MODEL else 10,
            'image_size': Settings().r50_size if args.model == R50_MODEL else 32}
    step_seconds, operators = profile_step(spec, args.steps)
    summary = summarise(operators, args.steps, step_seconds)
    print_summary(spec, summary, threads)
    if args.out:
        write_json(args.out, dict(spec, steps=args.steps, threads=threads,
                                  bulk_execution='off (MXNET_EXEC_BULK_EXEC_TRAIN/INFERENCE=0)',
                                  operator_tuning=os.environ.get('MXNET_USE_OPERATOR_TUNING'),
                                  **summary))
        print('wrote %s' % args.out)


def entry():
    """Nothing above imports mxnet before :func:`main` has set the threads and bulk execution."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
