"""``python -m atac_gluon.launch``: a real ps-lite job (scheduler, server, two workers) on 127.0.0.1,
a worker killed mid-run, Ctrl-C, and bad arguments. Every launch carries a unique environment
marker, so the tests can prove that no process of it is left running."""
import os
import shutil
import signal
import socket
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
import atac_gluon.compat  # before mxnet, as a user's program on a newer NumPy or Python
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

    def start(mode, workers=2, servers=1, options=(), extra_env=None):
        marker = uuid.uuid4().hex
        env = dict(os.environ, TEST_MODE=mode, ATAC_LAUNCH_TEST=marker, OMP_NUM_THREADS='1',
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
                   **(extra_env or {}))
        proc = subprocess.Popen(
            [sys.executable, '-m', 'atac_gluon.launch', '-n', str(workers), '-s', str(servers)]
            + list(options) + ['--', sys.executable, str(script)],
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
    (['-n', '1', '-s', '1', '--launcher', 'ssh', '--', 'true'], 'needs -H HOSTFILE'),
    (['-n', '1', '-s', '1', '-H', 'hosts', '--', 'true'], 'for --launcher ssh'),
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


# --- --launcher ssh, against a private sshd on 127.0.0.1 ------------------------------------

SSHD = '/usr/sbin/sshd'


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def sshd(tmp_path_factory):
    """A private sshd on 127.0.0.1 (installed with apt-get if missing) that accepts a fresh client
    key; yields ``(port, ATAC_SSH_OPTIONS value)``. Skips when it cannot be had."""
    if not os.path.exists(SSHD):
        if os.geteuid() != 0 or shutil.which('apt-get') is None:
            pytest.skip('no %s, and cannot apt-get install openssh-server' % SSHD)
        try:
            done = subprocess.run(['apt-get', 'install', '-y', '-q', 'openssh-server'],
                                  capture_output=True, text=True, timeout=300,
                                  env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
        except subprocess.TimeoutExpired:
            pytest.skip('apt-get install openssh-server timed out')
        if done.returncode != 0 or not os.path.exists(SSHD):
            pytest.skip('apt-get install openssh-server failed: %s' % done.stderr[-300:])
    if shutil.which('ssh') is None or shutil.which('ssh-keygen') is None:
        pytest.skip('no ssh client')
    tmp = tmp_path_factory.mktemp('sshd')
    for key in ('host_key', 'client_key'):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp / key)],
                       check=True, timeout=30)
    (tmp / 'authorized_keys').write_text((tmp / 'client_key.pub').read_text())
    port = _free_port()
    config = tmp / 'sshd_config'
    config.write_text('\n'.join([
        'Port %d' % port, 'ListenAddress 127.0.0.1', 'HostKey %s' % (tmp / 'host_key'),
        'AuthorizedKeysFile %s' % (tmp / 'authorized_keys'), 'PermitRootLogin prohibit-password',
        'PidFile %s' % (tmp / 'sshd.pid'), 'UsePAM no', 'StrictModes no', '']))
    os.makedirs('/run/sshd', exist_ok=True)  # sshd's privilege separation directory
    log = open(tmp / 'sshd.log', 'w')
    daemon = subprocess.Popen([SSHD, '-D', '-e', '-f', str(config)], stdout=log, stderr=log,
                              start_new_session=True)
    options = '-i %s -o UserKnownHostsFile=%s' % (tmp / 'client_key', tmp / 'known_hosts')
    try:
        deadline = time.monotonic() + 10
        while True:
            probe = subprocess.run(['ssh', '-o', 'BatchMode=yes', '-o',
                                    'StrictHostKeyChecking=accept-new', '-p', str(port)]
                                   + options.split() + ['127.0.0.1', 'true'],
                                   capture_output=True, text=True, timeout=15)
            if probe.returncode == 0:
                break
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.skip('cannot ssh to a private sshd: %s %s' % (
                    probe.stderr.strip(), (tmp / 'sshd.log').read_text()[-300:]))
            time.sleep(0.2)
        yield port, options
    finally:
        daemon.kill()
        daemon.wait()
        log.close()


@pytest.fixture
def hostfile(tmp_path, sshd):
    path = tmp_path / 'hosts'
    path.write_text('# two "machines", both this one\n127.0.0.1:%d\n\n127.0.0.1:%d  # again\n'
                    % (sshd[0], sshd[0]))
    options = ['--launcher', 'ssh', '-H', str(path), '-e', 'TEST_MODE']
    return options, {'ATAC_SSH_OPTIONS': sshd[1]}


def test_ssh_two_workers_one_server(job, hostfile):
    proc, lines, marker, readers = job('ok', options=hostfile[0], extra_env=hostfile[1])
    code, _ = _finish(proc, readers, 60)
    out = [line.rstrip('\n') for line in lines['out']]
    assert code == 0, lines
    for index in (0, 1):
        sums = [line for line in out
                if line.startswith('[worker %d] ' % index) and ' sum ' in line]
        assert len(sums) == 1, out
        assert sums[0].endswith('num_workers 2 sum [5.0, 5.0, 5.0, 5.0]'), sums
    assert sorted(line.split()[3] for line in out if ' sum ' in line) == ['0', '1']
    assert all(line.startswith(('[worker ', '[server ', '[scheduler]')) for line in out), out
    assert not any(line.startswith('error:') for line in lines['err']), lines['err']
    _assert_nothing_left(marker)


def test_ssh_killed_worker_stops_everything_remote_too(job, hostfile):
    proc, lines, marker, readers = job('die', options=hostfile[0], extra_env=hostfile[1])
    seen = set()
    begin = time.monotonic()
    while proc.poll() is None and time.monotonic() < begin + 60:
        seen.update(_marked(marker))  # the remote roles must carry the marker too
        time.sleep(0.2)
    code, _ = _finish(proc, readers, 5)
    took = time.monotonic() - begin
    errors = [line for line in lines['err'] if line.startswith('error:')]
    assert code == 128 + signal.SIGKILL, lines
    assert errors == ['error: worker 1 on 127.0.0.1 exited with code 137 (killed by SIGKILL); '
                      'stopped the other 3 processes\n'], lines['err']
    assert any(line.startswith('[worker 1] rank') for line in lines['out']), lines['out']
    assert not any('unreachable' in line for line in lines['out'])
    assert took < 25, took
    # launcher + 4 ssh + 4 remote guards + 4 remote roles (fewer if a poll missed a short one)
    assert len(seen) >= 11, len(seen)
    _assert_nothing_left(marker)


@pytest.mark.parametrize('content, says', [
    (None, 'cannot read the host file'),
    ('', 'no hosts'),
    ('# only a comment\n\n', 'no hosts'),
    ('127.0.0.1:ssh\n', "line 1: '127.0.0.1:ssh' is not host or host:port"),
    ('a\nb:70000\n', 'line 2'),
    ('a b\n', 'line 1'),
])
def test_ssh_bad_hostfile(content, says, tmp_path, capsys):
    path = tmp_path / 'hosts'
    if content is not None:
        path.write_text(content)
    argv = ['-n', '1', '-s', '1', '--launcher', 'ssh', '-H', str(path), '--', 'true']
    assert run_main(main, argv) == 2
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert len(err) == 1 and err[0].startswith('error: -H %s' % path) and says in err[0], err
    assert captured.out == ''


def test_ssh_bad_hostfile_from_the_command_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, '-m', 'atac_gluon.launch', '-n', '1', '-s', '1',
                           '--launcher', 'ssh', '-H', str(tmp_path / 'missing'), '--', 'true'],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and 'missing' in done.stderr, done.stderr
