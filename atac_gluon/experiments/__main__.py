"""``python -m atac_gluon.experiments list | run SUITE | report SUITE``: the paper's experiments.

    python -m atac_gluon.experiments list --hours
    python -m atac_gluon.experiments run fig8 --root experiments --print      # for a cluster
    python -m atac_gluon.experiments run fig8 --root experiments --gpus 0,1 --data-dir ~/cifar
    python -m atac_gluon.experiments run fig8 --root /tmp/smoke --smoke      # tiny, on the CPU
    python -m atac_gluon.experiments run fig8 --root experiments --only 'cifar10-*-b1'
    python -m atac_gluon.experiments run fmnist --root experiments --scale cpu  # 2 cores
    python -m atac_gluon.experiments report fig8 --root experiments          # report.md + PNG
"""
import argparse
import os
import re
import sys

from ..checks import check_output_dir
from ..errors import BadInput, run_main
from ..training.threads import configure_cpu_threads
from .suites import SUITES, get_suite, select_configurations, select_scale

__all__ = ['main', 'entry']


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m atac_gluon.experiments',
                                     description="Run and report the paper's experiments.")
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    listing = commands.add_parser('list', help='the suites and their run counts')
    listing.add_argument('--hours', action='store_true',
                         help='also the expected GPU-hours at full scale (a few seconds)')
    run = commands.add_parser('run', help='train every run of a suite (finished runs are '
                                          'skipped, unfinished ones resume)')
    report = commands.add_parser('report', help='write DIR/SUITE/report.md, report.json and a '
                                                'PNG beside the paper\'s numbers')
    for sub in (run, report):
        sub.add_argument('suite', metavar='SUITE', help=', '.join(SUITES))
        sub.add_argument('--root', required=True, metavar='DIR',
                         help='each run is saved in DIR/SUITE/<run>/')
    run.add_argument('--only', nargs='+', default=None, metavar='PATTERN',
                     help='only the runs whose names match a glob pattern, such as '
                          '"cifar10-*-b1" (see --print); the report lists the others as '
                          'missing')
    run.add_argument('--print', dest='print_only', action='store_true',
                     help='print the full-scale command of every run instead of running them')
    run.add_argument('--scale', default=None, metavar='NAME',
                     help='one of the suite\'s smaller scales (see list), e.g. fmnist\'s cpu; '
                          'default: the full scale')
    run.add_argument('--smoke', action='store_true',
                     help='every configuration for 1 epoch on tiny digits-derived data, b at '
                          'most 2, on this CPU')
    run.add_argument('--gpus', default=None, metavar='IDS',
                     help='GPU ids such as 0,1 (ImageNet: their count); default the recipes\' '
                          '(CIFAR 0, ImageNet 2)')
    run.add_argument('--data-dir', default=None, metavar='DIR',
                     help='CIFAR: the CIFAR files; ImageNet: the folder with rec/ (or '
                          'train/ and val/)')
    run.add_argument('--epochs', type=int, default=None, metavar='N',
                     help='train N epochs instead of the recipe\'s; the decay and warm-up '
                          'epochs scale with it')
    run.add_argument('--launcher-args', default=None, metavar='ARGS',
                     help='start each run with python -m atac_gluon.launch ARGS -- ... '
                          '(e.g. "-n 2 -s 1"), with --kvstore dist_sync')
    run.add_argument('--input-bn-from-data', action='store_true',
                     help='CIFAR runs: set the input BatchNorm\'s running statistics from the '
                          'training data (not the official behaviour; see the README)')
    run.add_argument('--fused-gates', action='store_true',
                     help="the runs with local ChaATAC units in float32: the scripts' "
                          '--fused-gates (faster on the CPU, the same numbers to float rounding; '
                          'refused on GPUs)')
    args = parser.parse_args(argv)
    check_args(args)
    return args


def check_args(args):
    if args.command == 'list':
        return
    suite = get_suite(args.suite)
    if args.command == 'run':
        if args.smoke and args.scale is not None:
            raise BadInput('--smoke is a scale of its own: leave out --scale')
        select_configurations(select_scale(suite, args.scale)[0], args.only)
    if args.command == 'report' or not args.print_only:
        check_output_dir(args.root, '--root')
    if args.command == 'report':
        return
    if args.epochs is not None and args.epochs < 1:
        raise BadInput('--epochs must be a positive integer, got %d' % args.epochs)
    if args.gpus is not None and not re.fullmatch(r'\d+(,\d+)*', args.gpus):
        raise BadInput('--gpus must be comma-separated GPU ids such as 0,1, got %r' % args.gpus)
    if args.smoke and args.data_dir:
        raise BadInput('--smoke trains on its own tiny data: leave out --data-dir')
    if args.data_dir:
        args.data_dir = os.path.expanduser(args.data_dir)
        if not os.path.exists(args.data_dir):
            raise BadInput('--data-dir %s: no such directory' % args.data_dir)
    if args.launcher_args is not None and not args.launcher_args.split():
        raise BadInput('--launcher-args is empty')


def list_suites(hours):
    from .cost import suite_gpu_hours
    for suite in SUITES.values():
        cost = '  about %.1f GPU-hours' % suite_gpu_hours(suite) if hours else ''
        print('%-10s %3d runs%s  %s' % (suite.name, len(suite.configurations), cost,
                                        suite.title))
        print('%-10s          %s' % ('', suite.description))
        for scale in suite.scales:
            runs = len(select_scale(suite, scale.name)[0].configurations)
            print('%-10s          --scale %s: %d runs; %s' % ('', scale.name, runs,
                                                            scale.description))


def main(argv=None):
    args = parse_args(argv)
    if args.command == 'list':
        list_suites(args.hours)
        return
    suite = get_suite(args.suite)
    if args.command == 'report':
        from .report import write_report
        for path in write_report(args.root, suite):
            print(path)
        return
    options = dict(epochs=args.epochs, gpus=args.gpus, data_dir=args.data_dir,
                   input_bn_from_data=args.input_bn_from_data, fused_gates=args.fused_gates)
    suite, scale = select_scale(suite, args.scale)
    suite = select_configurations(suite, args.only)
    if args.print_only:
        from .cost import suite_gpu_hours
        from .train import suite_commands
        report = ('python -m atac_gluon.experiments report %s --root %s when done'
                  % (suite.name, args.root))
        if scale is None:
            print('# %s: %d runs, about %.1f GPU-hours (%s)' % (
                suite.title, len(suite.configurations), suite_gpu_hours(suite, args.epochs),
                report))
        else:
            print('# %s, --scale %s: %d runs; %s (%s)' % (
                suite.title, scale.name, len(suite.configurations), scale.description, report))
        for line in suite_commands(suite, args.root, args.launcher_args, scale=scale,
                                   **options):
            print(line)
        return
    from .pictures import draw_run_gates
    from .train import train_suite
    train_suite(suite, args.root, smoke=args.smoke, launcher_args=args.launcher_args,
                draw=draw_run_gates if suite.gates else None, scale=scale, **options)
    print('done: python -m atac_gluon.experiments report %s --root %s' % (suite.name,
                                                                          args.root))


def entry():
    """``python -m atac_gluon.experiments`` and the console script. Nothing above imports mxnet
    (the commands import what they need), so the CPU threads are set before it loads."""
    configure_cpu_threads([])
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
