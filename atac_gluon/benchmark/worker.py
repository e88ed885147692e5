"""One worker process of the benchmark: ``python -m atac_gluon.benchmark.worker GROUP SPECS
RESULTS [--torch-path DIR]`` runs the specs (a JSON list) of GROUP and appends one JSON line per
measurement to RESULTS as soon as it is done (so a crash keeps the earlier ones). A failing
configuration is recorded as ``unavailable`` with its reason; the others go on.

Each group has its own process: MXNet and PyTorch each bring their own OpenMP runtime (two in one
process compete for the cores), ``amp.init`` changes MXNet for the whole process, an int8 or
bfloat16 kernel missing on this CPU may abort it, and ``torch.compile`` may take long. The
parent sets ``OMP_NUM_THREADS`` before starting it.
"""
import argparse
import importlib
import json
import os
import runpy
import shutil
import sys
import tempfile
import traceback

from ..cpuinfo import cpu_flags
from ..errors import error_reason
from .torchenv import hide_torch, import_torch

__all__ = ['main']

_BF16_FLAGS = ('avx512_bf16', 'amx_bf16', 'avx512f')


def _reason(spec, err):
    reason = error_reason(err, limit=300)
    if ('bf16' in spec['config'] and 'bfloat16' not in reason.lower()
            and not cpu_flags() & set(_BF16_FLAGS)):
        reason += (' (this CPU has none of %s: oneDNN has no bfloat16 kernels for it)'
                   % ', '.join(_BF16_FLAGS))
    return reason


class Recorder:
    def __init__(self, path):
        self.file = open(path, 'a')

    def write(self, record):
        self.file.write(json.dumps(record) + '\n')
        self.file.flush()
        os.fsync(self.file.fileno())

    def each(self, spec, fn):
        """Run ``fn(spec)`` and record its result, or its failure as ``unavailable``."""
        print('benchmark: %s ...' % spec['key'], file=sys.stderr, flush=True)
        try:
            result = fn(spec)
        except Exception as err:  # recorded: one configuration failing ends nothing else
            traceback.print_exc()
            result = {'unavailable': _reason(spec, err)}
        result['key'] = spec['key']
        self.write(result)

    def unavailable(self, specs, reason):
        for spec in specs:
            self.write({'key': spec['key'], 'unavailable': reason})


def _threads():
    return int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count() or 1)


def run_mxnet(specs, rec, amp=False):
    hide_torch()
    if amp:
        from .mxnet_runs import init_amp
        init_amp()  # before any network is built
    from .mxnet_runs import mxnet_meta, run_fp32
    rec.write({'meta': mxnet_meta()})
    for spec in specs:
        rec.each(spec, run_fp32)


def run_quantized(specs, rec):
    hide_torch()
    from .mxnet_runs import mxnet_meta, run_quantized as run
    rec.write({'meta': mxnet_meta()})
    try:
        importlib.import_module('atac_gluon.quantization')
    except Exception as err:
        rec.unavailable(specs, 'atac_gluon.quantization does not import: %s'
                        % error_reason(err, limit=300))
        return
    try:
        run(specs, rec.each)
    except Exception as err:  # building the reference network failed
        traceback.print_exc()
        done = _done(rec)
        rec.unavailable([s for s in specs if s['key'] not in done], _reason(specs[0], err))


def _done(rec):
    rec.file.flush()
    with open(rec.file.name) as f:
        return {json.loads(line).get('key') for line in f if line.strip()}


def run_torch(specs, rec, torch_path):
    try:
        import_torch(torch_path)
    except Exception as err:
        rec.unavailable(specs, 'PyTorch does not import: %s' % error_reason(err, limit=300))
        return
    from .torch_runs import TorchRunner, torch_meta
    rec.write({'meta': torch_meta(_threads())})
    runner = TorchRunner()
    for spec in specs:
        rec.each(spec, runner.run)


def train_cifar_args(spec, save_dir):
    fused = ['--fused-gates'] if spec['config'].endswith('-fused') else []
    return ['--dataset', 'digits', '--blocks', str(spec['blocks']), '--act-type', 'ChaATAC',
            '--r', '2', '--useReLU', '--mode', 'hybrid', '--batch-size', str(spec['batch']),
            '--num-epochs', str(spec['epochs']), '-j', '2'] + fused + [
                '--save-dir', save_dir, '--save-plot-dir', save_dir, '--save-period', '0']


def run_end_to_end(specs, rec):
    """``python -m atac_gluon.train_cifar`` run in this process (torch hidden):
    samples_per_sec of the last epoch from its metrics.jsonl."""
    hide_torch()

    def one(spec):
        save_dir = tempfile.mkdtemp(prefix='atac-bench-e2e-')
        try:
            args = train_cifar_args(spec, save_dir)
            saved = sys.argv
            sys.argv = ['atac_gluon.train_cifar'] + args
            try:
                runpy.run_module('atac_gluon.train_cifar', run_name='__main__',
                                 alter_sys=True)
                code = 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None
                                                                     else 1)
            finally:
                sys.argv = saved
            if code:
                raise RuntimeError('train_cifar exited with code %d' % code)
            with open(os.path.join(save_dir, 'metrics.jsonl')) as f:
                records = [json.loads(line) for line in f if line.strip()]
            speeds = [r['samples_per_sec'] for r in records]
            last = records[-1]
            return {'img_per_sec': speeds[-1], 'epochs_samples_per_sec': speeds,
                    'seconds': last.get('time'), 'iterations': 1,
                    'warmup': len(records) - 1,
                    'command': 'python -m atac_gluon.train_cifar ' + ' '.join(
                        args[:-6] + ['--save-dir', 'TMP', '--save-plot-dir', 'TMP',
                                     '--save-period', '0']),
                    'note': 'end to end (data pipeline, -j 2%s): samples_per_sec of epoch %d of '
                            '%d' % (', --fused-gates' if '--fused-gates' in args else '',
                                    len(records), spec['epochs'])}
        finally:
            shutil.rmtree(save_dir, ignore_errors=True)
    for spec in specs:
        rec.each(spec, one)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m atac_gluon.benchmark.worker')
    parser.add_argument('group')
    parser.add_argument('specs')
    parser.add_argument('results')
    parser.add_argument('--torch-path', default=None)
    args = parser.parse_args(argv)
    with open(args.specs) as f:
        specs = json.load(f)
    rec = Recorder(args.results)
    if args.group == 'mxnet':
        run_mxnet(specs, rec)
    elif args.group == 'mxnet-amp':
        run_mxnet(specs, rec, amp=True)
    elif args.group == 'mxnet-quantized':
        run_quantized(specs, rec)
    elif args.group in ('torch', 'torch-compile'):
        run_torch(specs, rec, args.torch_path)
    elif args.group == 'end-to-end':
        run_end_to_end(specs, rec)
    else:
        raise SystemExit('unknown group %r' % args.group)


if __name__ == '__main__':
    main()
