"""The launcher's guard (the remote end of an ssh role) and supervisor, with stand-in processes
(``sh``, ``sleep``) in place of ps-lite roles: fast, no mxnet, no ssh. The real jobs are in
``test_launch.py``."""
import io
import os
import signal
import subprocess
import sys
import time

import pytest

from atac_gluon.errors import Interrupted
from atac_gluon.launch import LaunchPlan, ProcessFailed, Role, supervise
from atac_gluon.launch.plan import guard_source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLEEPER = 'import os, time; print(os.getpid(), flush=True); time.sleep(60)'
STUBBORN = ('import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
            'print(os.getpid(), flush=True); time.sleep(60)')


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _guarded(grace, *command):
    """The guard as the ssh command runs it: ``python -c SOURCE GRACE COMMAND ...``."""
    return subprocess.Popen([sys.executable, '-c', guard_source(), str(grace)] + list(command),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize('program, grace, code', [(SLEEPER, 5, 128 + signal.SIGTERM),
                                                  (STUBBORN, 0.5, 128 + signal.SIGKILL)])
def test_guard_stops_its_command_when_stdin_closes(program, grace, code):
    guard = _guarded(grace, sys.executable, '-c', program)
    try:
        child = int(guard.stdout.readline())
        assert _alive(child)
        guard.stdin.close()  # what the ssh connection closing looks like to the guard
        assert guard.wait(10) == code
        assert not _alive(child)
    finally:
        guard.kill()
        guard.wait()


def _exit_code(guard):
    """The guard's exit code, its stdin (the ssh channel) kept open until it exits."""
    try:
        return guard.wait(120)
    finally:
        guard.stdin.close()


def test_guard_exits_with_the_command_code():
    guard = _guarded(1, 'sh', '-c', 'echo out; exit 7')
    assert _exit_code(guard) == 7
    assert guard.stdout.read() == 'out\n'
    assert _exit_code(_guarded(1, 'sh', '-c', 'kill -9 $$')) == 128 + signal.SIGKILL


def test_guard_runs_as_a_module():
    guard = subprocess.Popen([sys.executable, '-m', 'atac_gluon.launch.guard', '1', 'sh', '-c',
                              'exit 5'], cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    assert _exit_code(guard) == 5
    assert guard.stderr.read() == ''  # no runpy warning: the package does not import the guard


def _role(name, script, host=None):
    kind = name.split()[0]
    return Role(name, kind, ['sh', '-c', script], dict(os.environ), host)


def _plan(*roles):
    return LaunchPlan(tuple(roles), 0, '127.0.0.1')


def test_every_process_exits_zero():
    out, err = io.StringIO(), io.StringIO()
    plan = _plan(_role('scheduler', 'echo s'), _role('server 0', 'echo e >&2'),
                 _role('worker 0', 'echo one; echo two'))
    assert supervise(plan, out=out, err=err) == 0
    assert sorted(out.getvalue().splitlines()) == ['[scheduler] s', '[worker 0] one',
                                                   '[worker 0] two']
    assert err.getvalue() == '[server 0] e\n'


def test_a_failed_worker_stops_the_others():
    out, err = io.StringIO(), io.StringIO()
    plan = _plan(_role('scheduler', 'sleep 60'), _role('server 0', 'sleep 60'),
                 _role('worker 0', 'sleep 60'), _role('worker 1', 'echo bye; exit 3'))
    begin = time.monotonic()
    with pytest.raises(ProcessFailed) as failed:
        supervise(plan, grace=1, out=out, err=err)
    assert time.monotonic() - begin < 10
    assert str(failed.value) == 'worker 1 exited with code 3; stopped the other 3 processes'
    assert failed.value.code == 3
    assert out.getvalue() == '[worker 1] bye\n'


def test_a_killed_remote_role_names_its_host():
    plan = _plan(_role('scheduler', 'sleep 60', 'node1'), _role('worker 0', 'exit 137', 'node2'))
    with pytest.raises(ProcessFailed) as failed:
        supervise(plan, grace=1, out=io.StringIO(), err=io.StringIO())
    assert str(failed.value) == ('worker 0 on node2 exited with code 137 (killed by SIGKILL); '
                                 'stopped the other 1 process')
    assert failed.value.code == 137


def test_lingering_scheduler_and_servers_are_stopped_with_a_warning():
    err = io.StringIO()
    plan = _plan(_role('scheduler', 'sleep 60'), _role('server 0', 'sleep 60'),
                 _role('worker 0', 'true'))
    assert supervise(plan, grace=1, linger=0.2, out=io.StringIO(), err=err) == 0
    assert err.getvalue() == ('warning: every worker exited 0, but scheduler, server 0 did not '
                              'exit within 0.2 s; stopped them\n')


def test_sigterm_stops_everything():
    plan = _plan(_role('scheduler', 'sleep 60'), _role('worker 0', 'sleep 60'))
    timer = __import__('threading').Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    timer.start()
    try:
        with pytest.raises(Interrupted, match='^SIGTERM; stopped 2 processes of the launch$'):
            supervise(plan, grace=1, out=io.StringIO(), err=io.StringIO())
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) is before
