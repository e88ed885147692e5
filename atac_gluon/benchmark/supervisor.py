"""The supervisor, the benchmark's parent process: run each group of the plan in its own worker
process (one after the other: they would compete for the cores), collect their results, keep
the JSON up to date after each group. A worker that crashes, hangs past its timeout or cannot
start leaves its remaining configurations ``unavailable`` with the reason; the run goes on."""
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from .plan import GROUPS
from .report import derive, format_table, machine_info, write_json
from .timing import TIMING
from .torchenv import find_torch

__all__ = ['run_benchmark', 'median_round']

#: spec fields copied into each result
SPEC_FIELDS = ('framework', 'config', 'mode', 'model', 'act_type', 'batch', 'image_size',
               'sections', 'key')


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except ValueError:
        return 'signal %d' % -code


def _last_line(path):
    """The worker log's last informative line (a Python exception's message ends its
    traceback; MXNet's native stack traces are skipped)."""
    try:
        with open(path, errors='replace') as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ''
    lines = [line for line in lines if not line.startswith(('[bt]', 'Stack trace', 'File '))]
    return lines[-1][:300] if lines else ''


def _read_new(path, offset):
    """(complete lines after ``offset``, new offset)."""
    try:
        with open(path) as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind('\n') + 1
    return [json.loads(line) for line in data[:end].splitlines() if line.strip()], offset + end


def _progress(spec, record):
    if record.get('unavailable'):
        return 'benchmark: %-70s unavailable: %s' % (spec['key'], record['unavailable'])
    return 'benchmark: %-70s %8.1f img/s' % (spec['key'], record['img_per_sec'])


def run_worker(group, specs, workdir, torch_path, timeout, on_result, on_meta):
    """Run ``specs`` in a ``python -m atac_gluon.benchmark.worker`` process; ``on_result(spec,
    record)`` for each measurement, every one (missing ones get the reason the worker
    stopped)."""
    specs_path = os.path.join(workdir, '%s-specs.json' % group)
    results_path = os.path.join(workdir, '%s-results.jsonl' % group)
    log_path = os.path.join(workdir, '%s.log' % group)
    with open(specs_path, 'w') as f:
        json.dump(specs, f)
    if os.path.exists(results_path):  # an earlier round's: its records are not this worker's
        os.remove(results_path)
    command = [sys.executable, '-m', 'atac_gluon.benchmark.worker', group, specs_path,
               results_path]
    if torch_path:
        command += ['--torch-path', torch_path]
    by_key = {spec['key']: spec for spec in specs}
    seen, offset = set(), 0

    def collect():
        nonlocal offset
        records, offset = _read_new(results_path, offset)
        for record in records:
            if 'meta' in record:
                on_meta(record['meta'])
            elif record.get('key') in by_key and record['key'] not in seen:
                seen.add(record['key'])
                _log(_progress(by_key[record['key']], record))
                on_result(by_key[record['key']], record)

    stopped = None
    with open(log_path, 'w') as log:
        # its own session: a timeout or Ctrl-C ends the worker and its children (train_cifar's
        # data workers) as one group
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        start = time.time()
        try:
            while proc.poll() is None:
                collect()
                if timeout and time.time() - start > timeout:
                    _kill(proc)
                    stopped = 'timed out after %d s' % timeout
                    break
                time.sleep(0.25)
        except BaseException:
            _kill(proc)
            raise
    collect()
    if proc.returncode and stopped is None:
        stopped = ('was killed by %s' % _signal_name(proc.returncode) if proc.returncode < 0
                   else 'exited with code %d' % proc.returncode)
    for spec in specs:
        if spec['key'] not in seen:
            reason = 'the %s worker %s before this measurement' % (group, stopped or 'ended')
            line = _last_line(log_path)
            on_result(spec, {'key': spec['key'],
                             'unavailable': reason + (' (%s)' % line if line else '')})
            _log(_progress(spec, {'unavailable': reason}))


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the worker this run started
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def median_round(entries):
    """Of one configuration's measured rounds, the one with the median img/s (the lower middle
    of an even count), with every round's img/s in ``rounds_img_per_sec``."""
    ranked = sorted(entries, key=lambda e: e['img_per_sec'])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    if len(entries) > 1:
        chosen['rounds_img_per_sec'] = [e['img_per_sec'] for e in entries]
    return chosen


def run_benchmark(specs, settings, out, threads, torch_path=None, no_torch=False,
                  timeout=None, argv=(), rounds=1):
    """Run ``specs`` (of :func:`~.plan.build_plan`), print the table, write ``out`` (JSON;
    after each group too, ``complete`` false until the end). Returns the document.

    With ``rounds`` > 1 every group runs that many times, the order of the groups reversed in
    every other round, and each result is the round with the median img/s (``rounds_img_per_sec``
    lists them all). A shared machine's speed drifts by tens of percent within minutes; the
    rounds put every framework through the same spells."""
    started = datetime.datetime.now(datetime.timezone.utc)
    doc = {'benchmark': 'atac_gluon.benchmark', 'format': 1,
           'created': started.isoformat(timespec='seconds'),
           'command': 'python -m atac_gluon.benchmark ' + ' '.join(argv),
           'complete': False, 'settings': settings.as_dict(), 'rounds': rounds,
           'timing': TIMING,
           'machine': machine_info(threads), 'group_seconds': {}, 'results': [], 'best': None, 'ratios': None}
    results, measured = {}, {}

    def on_result(spec, record):
        entry = {k: spec[k] for k in SPEC_FIELDS}
        entry.update({k: v for k, v in record.items() if k != 'key'})
        entry.setdefault('iterations', spec['iterations'])
        if not entry.get('unavailable'):
            entry.pop('unavailable', None)
            measured.setdefault(spec['key'], []).append(entry)
            entry = median_round(measured[spec['key']])
        elif spec['key'] in measured:  # an earlier round measured it: keep that
            return
        results[spec['key']] = entry

    def on_meta(meta):
        versions = doc['machine']['versions']
        for name in ('mxnet', 'torch'):
            if meta.get(name):
                versions[name] = meta[name]
        doc['machine'].setdefault('framework_details', {}).update(
            {k: v for k, v in meta.items() if k not in ('mxnet', 'torch')})

    def save():
        doc['results'] = [results[s['key']] for s in specs if s['key'] in results]
        doc['best'], doc['ratios'] = derive(doc['results'], settings)
        if out:
            write_json(out, doc)

    torch_missing = 'skipped (--no-torch)' if no_torch else find_torch(torch_path)
    with tempfile.TemporaryDirectory(prefix='atac-bench-') as workdir:
        for round_index in range(rounds):
            for group in GROUPS if round_index % 2 == 0 else GROUPS[::-1]:
                todo = []
                for spec in (s for s in specs if s['group'] == group):
                    skip = spec.get('skip') or (torch_missing if spec['framework'] == 'torch'
                                                else None)
                    if skip:
                        if round_index == 0:
                            on_result(spec, {'unavailable': skip})
                            _log(_progress(spec, {'unavailable': skip}))
                    else:
                        todo.append(spec)
                if todo:
                    _log('benchmark: %s: %d measurement(s) in a worker process%s'
                         % (group, len(todo), ', round %d of %d' % (round_index + 1, rounds)
                            if rounds > 1 else ''))
                    tic = time.time()
                    run_worker(group, todo, workdir, torch_path, timeout, on_result, on_meta)
                    doc['group_seconds'][group] = round(
                        doc['group_seconds'].get(group, 0) + time.time() - tic, 1)
                save()
    try:
        doc['machine']['load_average_at_end'] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    doc['seconds'] = round((datetime.datetime.now(datetime.timezone.utc)
                            - started).total_seconds(), 1)
    doc['complete'] = True
    save()
    print(format_table(doc))
    if out:
        print('\nwrote %s' % out)
    return doc
