"""Kill a training run right after each file-system write, rename, link or removal it makes,
resume it, and report the run directories, for test_run_integrity.py.

    python -m tests.helpers.crashpoints SCRIPT WORKDIR -- SCRIPT-ARGS...   (PYTHONPATH: the repo)

The script module (and mxnet) is imported once; every run is a fork of this process, so a run
costs its training, not an interpreter start. First a reference run records the sequence of
operations; then for each operation k a run is killed (SIGKILL) right after operation k and the
same command with ``--resume`` finishes it in ``WORKDIR/crash-<k>``. Prints a JSON report:
the operations, and per k the exit codes and the last lines of the resumed run's stderr.
Set OMP_NUM_THREADS before starting it (two runs go at once).
"""
import json
import os
import signal
import sys

from tests.helpers.scripts import load

# what makes a run-directory change durable or visible; patched in the forked runs
_OPS = ('replace', 'rename', 'link', 'remove', 'unlink', 'fsync', 'mkdir', 'rmdir')


def _instrument(crash_at, trace):
    """Patch os so that every operation is recorded and the process dies after ``crash_at``."""
    count = [0]

    def wrap(name, real):
        def op(*args, **kwargs):
            result = real(*args, **kwargs)
            target = args[0] if args else ''
            if isinstance(target, int):  # fsync: the file or directory behind the descriptor
                target = os.readlink('/proc/self/fd/%d' % target)
                if os.path.isdir(target):
                    return result  # a kill after a directory's fsync is one after its rename
            count[0] += 1
            trace.append('%s %s' % (name, os.path.basename(str(target))))
            if count[0] == crash_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return op

    for name in _OPS:
        setattr(os, name, wrap(name, getattr(os, name)))


def _fork_run(module, argv, crash_at=None, trace_file=None, log_file=None):
    """Fork; the child runs ``module.main(argv)`` (instrumented); returns the child's pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        if log_file:
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            os.dup2(fd, 1)
        trace = []
        _instrument(crash_at or 0, trace)
        code = module.run_main(module.main, argv)
        if trace_file:
            with open(trace_file, 'w') as f:
                json.dump(trace, f)
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _status(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main(argv):
    script, workdir = argv[0], argv[1]
    args = argv[argv.index('--') + 1:]
    module = load(script)
    os.makedirs(workdir, exist_ok=True)
    reference = os.path.join(workdir, 'reference')
    trace_file = os.path.join(workdir, 'trace.json')
    code = _status(_fork_run(module, args + ['--save-dir', reference, '--save-plot-dir',
                                             reference], trace_file=trace_file,
                             log_file=os.path.join(workdir, 'reference.log')))
    if code != 0:
        print(json.dumps({'reference_exit': code}))
        return
    with open(trace_file) as f:
        trace = json.load(f)
    report = {'reference_exit': 0, 'trace': trace, 'runs': {}}

    def run_point(k):
        """Fork the run killed after op k; returns its pid."""
        run_dir = os.path.join(workdir, 'crash-%d' % k)
        return _fork_run(module, args + ['--save-dir', run_dir, '--save-plot-dir', run_dir],
                         crash_at=k, log_file=os.path.join(workdir, 'crash-%d.kill.log' % k))

    def resume_point(k):
        run_dir = os.path.join(workdir, 'crash-%d' % k)
        return _fork_run(module, args + ['--save-dir', run_dir, '--save-plot-dir', run_dir,
                                         '--resume'],
                         log_file=os.path.join(workdir, 'crash-%d.resume.log' % k))

    # two points at a time: a point's kill, then its resume
    pending = list(range(1, len(trace) + 1))
    running = {}
    while pending or running:
        while pending and len(running) < 2:
            k = pending.pop(0)
            running[run_point(k)] = (k, 'kill')
        pid, status = os.wait()
        k, phase = running.pop(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if phase == 'kill':
            report['runs'][k] = {'kill_exit': code}
            running[resume_point(k)] = (k, 'resume')
        else:
            with open(os.path.join(workdir, 'crash-%d.resume.log' % k)) as f:
                tail = f.read().strip().splitlines()[-3:]
            report['runs'][k].update(resume_exit=code, resume_tail=tail)
    print(json.dumps(report))


if __name__ == '__main__':
    main(sys.argv[1:])
