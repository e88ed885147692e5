"""Speed of ResNet-20 ATAC on the CPU, MXNet against PyTorch, training and inference.

    python -m atac_gluon.benchmark --out benchmark.json          # everything, ~20 min on 2 cores
    python -m atac_gluon.benchmark --quick --out quick.json      # tiny sizes, for tests
    python -m atac_gluon.benchmark --configs mxnet torch --iterations 20
    python -m atac_gluon.benchmark --rounds 3 --out bench.json   # median of 3 alternating rounds
    python -m atac_gluon.benchmark --list                        # the measurements, no run
    python -m atac_gluon.benchmark.profile --out profile.json    # per-operator time of a step

PyTorch is optional: ``pip install torch==2.13.0`` in the project's environment, or
``pip install --target DIR torch==2.13.0`` and ``--torch-path DIR`` (or
``ATAC_BENCH_TORCH_PATH=DIR``); see :mod:`atac_gluon.benchmark.torchenv`.

Exit codes: 0 done (configurations that cannot run here are listed as unavailable, with the
reason), 2 bad flag, 130 interrupted (the JSON then holds the groups finished so far).
"""
import argparse
import sys

from ..checks import POSITIVE_INT, check_numbers, check_prefix
from ..errors import BadInput, run_main
from ..training.threads import configure_cpu_threads
from .plan import SECTIONS, Settings, build_plan, select
from .torchenv import default_torch_path

__all__ = ['main', 'entry', 'parse_args']


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m atac_gluon.benchmark',
        description='Train and inference images per second of ResNet-20 ATAC on the CPU: '
                    'MXNet (fp32 hybrid/imperative, int8, bf16, end to end) and PyTorch.',
        epilog='sections for --configs: ' + '; '.join(
            '%s: %s' % item for item in SECTIONS.items()))
    parser.add_argument('--out', default='benchmark.json', metavar='FILE.json',
                        help='the JSON results (written atomically; default %(default)s; '
                             '"-" writes none)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes for tests: batch 16, 1 warm-up and 2 timed iterations, '
                             'b = 1 and 3 only, ResNet-50 at batch 2 and 64x64, int8 '
                             'calibrated by min/max, end to end ResNet-8 for one epoch, no '
                             'torch.compile')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='batch of the CIFAR networks (default 128, --quick 16)')
    parser.add_argument('--iterations', type=int, default=None,
                        help='timed iterations per configuration (default 10, --quick 2; '
                             'ResNet-50 at most 3)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed iterations first (default 3, --quick 1)')
    parser.add_argument('--configs', nargs='+', default=None, metavar='PATTERN',
                        help='only the measurements a glob pattern matches: a section (%s), '
                             'a config (fp32-hybrid), framework/config (torch/bf16-*), a model '
                             'or a key (see --list)' % ', '.join(SECTIONS))
    parser.add_argument('--no-torch', action='store_true',
                        help='leave out PyTorch (listed as unavailable)')
    parser.add_argument('--torch-path', default=default_torch_path(), metavar='DIR',
                        help='a `pip install --target` directory holding torch (default '
                             '$ATAC_BENCH_TORCH_PATH); without it torch is looked for in the '
                             'environment')
    parser.add_argument('--timeout', type=float, default=None, metavar='SECONDS',
                        help='stop a worker process (one group of configurations) after this '
                             'long; its unfinished measurements become unavailable (default '
                             '7200, --quick 600)')
    parser.add_argument('--cpu-threads', type=int, default=None,
                        help='OpenMP / PyTorch threads (default: all available cores; set '
                             'before mxnet is imported)')
    parser.add_argument('--rounds', type=int, default=1, metavar='N',
                        help='run every group N times, alternating the order of the groups, '
                             'and keep each configuration\'s median round (a shared machine '
                             'drifts; default 1)')
    parser.add_argument('--list', action='store_true',
                        help='print the planned measurements and exit')
    args = parser.parse_args(argv)
    # --batch-size, --cpu-threads: the project's rules; these two are the benchmark's own
    check_numbers(args, {'iterations': POSITIVE_INT, 'rounds': POSITIVE_INT})
    if args.warmup is not None and args.warmup < 0:
        raise BadInput('--warmup must be 0 or more, got %d' % args.warmup)
    if args.timeout is not None and not args.timeout > 0:
        raise BadInput('--timeout must be positive, got %g' % args.timeout)
    if args.out == '-':
        args.out = None
    elif not args.list:
        check_prefix(args.out, '--out', ('',))
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    settings = Settings(args.quick, args.batch_size, args.iterations, args.warmup)
    specs = select(build_plan(settings), args.configs)
    if not specs:
        raise BadInput('--configs %s matches no measurement; sections: %s (see --list)'
                       % (' '.join(args.configs), ', '.join(SECTIONS)))
    if args.list:
        for spec in specs:
            print('%-16s %-70s %s' % (spec['group'], spec['key'], ','.join(spec['sections'])))
        return
    threads = configure_cpu_threads(argv)  # done by entry() already; the count in effect
    from .supervisor import run_benchmark
    timeout = args.timeout or (600 if args.quick else 7200)
    run_benchmark(specs, settings, args.out, threads, torch_path=args.torch_path,
                  no_torch=args.no_torch, timeout=timeout, argv=argv, rounds=args.rounds)


def entry():
    """``python -m atac_gluon.benchmark``: the OpenMP threads are set before anything imports
    mxnet (the workers inherit them)."""
    configure_cpu_threads(sys.argv[1:])
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
