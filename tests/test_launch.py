"""``python -m atac_gluon.launch``: a real ps-lite job (scheduler, server, two workers) on 127.0.0.1,
a worker killed mid-run, Ctrl-C, and bad arguments. Every launch carries a unique environment
marker, so the tests can prove that no process of it is left running."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from atac_gluon.errors import run_main
from atac_gluon.launch import main

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = r'''
import os, signal, sys, time
import mxnet as mx
import numpy as np

mode = os.environ['TEST_MODE']
kv = mx.kv.create('dist_sync')
value = 2.5
kv.init(3, mx.nd.zeros((4,)))
print('connected rank', kv.rank, 'num_workers', kv.num_workers, flush=True)
if mode == 'sleep':
    print('ready', flush=True)
    time.sleep(120)
kv.push(3, mx.nd.ones((4,)) * value)
out = mx.nd.zeros((4,))
kv.pull(3, out=out)
got = out.asnumpy()
assert np.allclose(got, kv.num_workers * value), got
print('rank %d num_workers %d sum %s' % (kv.rank, kv.num_workers, got.tolist()), flush=True)
if mode == 'die':
    if os.environ['ATAC_WORKER_RANK'] == '1':
        os.kill(os.getpid(), signal.SIGKILL)
    kv.push(3, mx.nd.ones((4,)))  # the other worker blocks here for ever
    kv.pull(3, out=out)
    out.wait_to_read()
    print('unreachable', flush=True)
'''


def _marked(marker):
    """Pids of live processes whose environment carries ``marker`` (this process excluded)."""
    needle = ('ATAC_LAUNCH_TEST=%s' % marker).encode()
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open('/proc/%s/environ' % name, 'rb') as f:
                if needle in f.read().split(b'\0'):
                    found.append(int(name))
        except OSError:  # gone, or another user's
            pass
    return found


@pytest.fixture
def job(tmp_path):
    """Start the launcher on the test worker; yields ``start(mode, n, s)`` -> (Popen, lines, marker).
    Kills whatever is left afterwards, so a failing test leaves nothing running."""
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    started = []

    def start(mode, workers=2, servers=1):
        marker = uuid.uuid4().hex
        env = dict(os.environ, TEST_MODE=mode, ATAC_LAUNCH_TEST=marker, OMP_NUM_THREADS='1',
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
        proc = subprocess.Popen(
            [sys.executable, '-m', 'atac_gluon.launch', '-n', str(workers), '-s', str(servers),
             '--', sys.executable, str(script)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = {'out': [], 'err': []}
        readers = [threading.Thread(target=lambda s=stream, k=key: lines[k].extend(iter(s.readline, '')),
                                    daemon=True)
                   for stream, key in ((proc.stdout, 'out'), (proc.stderr, 'err'))]
        for reader in readers:
            reader.start()
        started.append((proc, marker, readers))
        return proc, lines, marker, readers

    yield start
    for proc, marker, _ in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _marked(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _finish(proc, readers, timeout):
    """Wait for the launcher (at most ``timeout`` s) and its output; return (code, seconds)."""
    begin = time.monotonic()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail('the launcher did not exit within %g s' % timeout)
    for reader in readers:
        reader.join(5)
    return code, time.monotonic() - begin


def _assert_nothing_left(marker):
    deadline = time.monotonic() + 2  # the launcher reaps before exiting; allow for /proc lag
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked(marker) == [], 'processes of the launch still running'


def test_two_workers_one_server(job):
    proc, lines, marker, readers = job('ok')
    code, _ = _finish(proc, readers, 60)
    out = [line.rstrip('\n') for line in lines['out']]
    assert code == 0, lines
    for index in (0, 1):
        mine = [line for line in out if line.startswith('[worker %d] ' % index)]
        sums = [line for line in mine if ' sum ' in line]
        assert len(sums) == 1, out
        assert sums[0].endswith('num_workers 2 sum [5.0, 5.0, 5.0, 5.0]'), sums
    ranks = sorted(line.split()[3] for line in out if ' sum ' in line)
    assert ranks == ['0', '1']  # ps-lite's ranks, one each
    assert all(line.startswith(('[worker ', '[server ', '[scheduler]')) for line in out), out
    assert not any(line.startswith('error:') for line in lines['err']), lines['err']
    _assert_nothing_left(marker)


def test_killed_worker_stops_everything(job):
    proc, lines, marker, readers = job('die')
    begin = time.monotonic()
    code, _ = _finish(proc, readers, 60)
    took = time.monotonic() - begin
    errors = [line for line in lines['err'] if line.startswith('error:')]
    assert code == 128 + signal.SIGKILL, lines
    assert errors == ['error: worker 1 exited with code -9 (killed by SIGKILL); '
                      'stopped the other 3 processes\n'], lines['err']
    assert any(line.startswith('[worker 1] rank') for line in lines['out']), lines['out']
    assert not any('unreachable' in line for line in lines['out'])
    assert took < 25, took  # mxnet's import (~3 s a process on 2 cores) + the grace period
    _assert_nothing_left(marker)


def test_sigint_stops_everything(job):
    proc, lines, marker, readers = job('sleep')
    deadline = time.monotonic() + 40
    while sum('ready' in line for line in lines['out']) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, lines
        time.sleep(0.1)
    assert len(_marked(marker)) >= 5  # launcher, scheduler, server, two workers
    proc.send_signal(signal.SIGINT)
    code, took = _finish(proc, readers, 15)
    assert code == 130, lines
    assert took < 10, took
    assert [line for line in lines['err'] if not line.startswith('[')] == [
        'interrupted: SIGINT; stopped 4 processes of the launch\n'], lines['err']
    _assert_nothing_left(marker)


@pytest.mark.parametrize('argv, says', [
    (['-n', '0', '-s', '1', '--', 'true'], '-n 0'),
    (['-n', '2', '-s', '-1', '--', 'true'], '-s -1'),
    (['-n', '2', '-s', '0', '--', 'true'], '-s 0'),
    (['-n', '2', '-s', '1', '--'], 'no COMMAND'),
    (['-n', '2', '-s', '1', 'true'], 'no COMMAND'),
    (['-n', 'two', '-s', '1', '--', 'true'], 'invalid int'),
    (['-s', '1', '--', 'true'], '-n'),
    (['-n', '1', '-s', '1', '--launcher', 'ssh', '--', 'true'], 'ssh: not implemented yet'),
    (['-n', '1', '-s', '1', '--launcher', 'mpi', '--', 'true'], 'unknown launcher'),
])
def test_bad_arguments(argv, says, capsys):
    assert run_main(main, argv) == 2
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert len(err) == 1 and err[0].startswith('error: ') and says in err[0], err
    assert captured.out == ''


def test_command_not_found_stops_the_started_roles(capsys, monkeypatch):
    marker = uuid.uuid4().hex
    monkeypatch.setenv('ATAC_LAUNCH_TEST', marker)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert run_main(main, ['-n', '1', '-s', '1', '--', '/nonexistent/worker']) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith('[')]
    assert len(err) == 1 and err[0].startswith('error: cannot start worker 0:'), err
    _assert_nothing_left(marker)


def test_exit_code_from_the_command_line():
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, '-m', 'atac_gluon.launch', '-n', '0', '-s', '1',
                           '--', 'true'], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ['error: -n 0: need at least 1 worker'], done.stderr
