"""Run integrity of a training run directory: a kill after any file-system operation, Ctrl-C, a
full disk, corrupt or hand-edited manifests and truncated checkpoint files never lose a complete
checkpoint, and ``--resume`` ends byte for byte where an uninterrupted run ends."""
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import mxnet as mx
import pytest

from atac_gluon.training.checkpoint import FORMAT
from tests.helpers.cifar_fakes import write_release
from tests.helpers.scripts import ROOT, load, offline_env, run, wait_for_epochs

pytestmark = pytest.mark.slow  # end to end: runs the scripts

SCRIPT = 'train_cifar.py'
PREFIX = 'cifar10-ResNet20_b_1_ChaATAC'
COUNTS = {('cifar10', True): 8, ('cifar10', False): 12}  # 40 training, 12 validation images
# seed 4: the best checkpoint changes at epoch 2, so an old best is removed during the run
RUN = ['--blocks', '1', '--batch-size', '8', '--num-epochs', '3', '--save-period', '2',
       '--mode', 'hybrid', '-j', '0', '--seed', '4', '--lr', '0.1', '--cpu-threads', '1']
VOLATILE = ('time', 'samples_per_sec')


def comparable_state(run_dir):
    """What a finished run directory holds, with run-specific values (timings, the directory
    flags, --resume) left out: the bytes of parameters and trainer states, the manifests, the
    metrics records; the log is left out and the plot only has to be a PNG."""
    state = {}
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name)
        if name == 'train.log':
            continue
        if name.endswith(('.params', '.states')):
            with open(path, 'rb') as f:
                state[name] = hashlib.sha256(f.read()).hexdigest()
        elif name.endswith('.json'):
            with open(path) as f:
                info = json.load(f)
            for key in VOLATILE:
                info['record'].pop(key)
            for key in ('resume', 'save_dir', 'save_plot_dir'):
                info['flags'].pop(key)
            state[name] = info
        elif name == 'metrics.jsonl':
            with open(path) as f:
                state[name] = [{k: v for k, v in json.loads(line).items() if k not in VOLATILE}
                               for line in f]
        elif name.endswith('.png'):
            with open(path, 'rb') as f:
                state[name] = f.read(8) == b'\x89PNG\r\n\x1a\n'
        else:
            state[name] = 'unexpected file'
    return state


def files_snapshot(run_dir):
    """name -> (bytes digest, mtime) of every file, to show that nothing was touched."""
    snapshot = {}
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name)
        with open(path, 'rb') as f:
            snapshot[name] = (hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns)
    return snapshot


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('cifar')
    write_release(str(root), 'cifar10', 'binary', counts=COUNTS)
    return str(root)


@pytest.fixture(scope='module')
def crash_report(tmp_path_factory, data_dir):
    """Every crash point of a whole run (tests/helpers/crashpoints.py): the work directory, the report."""
    work = tmp_path_factory.mktemp('crashpoints')
    env = dict(offline_env(work), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'tests.helpers.crashpoints',
                           SCRIPT, str(work / 'runs'), '--', '--data-dir', data_dir] + RUN,
                          cwd=str(work), env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report['reference_exit'] == 0, report
    return str(work / 'runs'), report


@pytest.fixture(scope='module')
def reference(crash_report):
    """The uninterrupted run's directory."""
    return os.path.join(crash_report[0], 'reference')


def test_a_kill_after_any_operation_resumes_to_the_uninterrupted_result(crash_report, reference):
    runs_dir, report = crash_report
    trace = report['trace']
    # the run exercises every kind of operation a checkpoint makes
    for needle in ('replace %s-0.partial.params' % PREFIX, 'replace %s-0.partial.states' % PREFIX,
                   'replace %s-0.partial.json' % PREFIX, 'link %s-0.params' % PREFIX,
                   'remove %s-0.params' % PREFIX, '-0-best.json', 'fsync metrics.jsonl',
                   'fsync %s-1.partial.states' % PREFIX,
                   'replace ResNet20_b_1_ChaATAC_history.partial.png'):
        assert any(needle in op for op in trace), needle
    assert any(op.startswith('remove') and op.endswith('-best.params') for op in trace)
    assert len(report['runs']) == len(trace) > 35
    want = comparable_state(reference)
    assert {'%s-1.params' % PREFIX, '%s-2.params' % PREFIX, 'metrics.jsonl'} <= set(want)
    assert '%s-0.params' % PREFIX not in want  # not periodic: removed once epoch 1 committed
    failures = []
    for k, result in sorted(report['runs'].items(), key=lambda item: int(item[0])):
        where = 'killed after operation %s (%s)' % (k, trace[int(k) - 1])
        if result['kill_exit'] != -signal.SIGKILL or result['resume_exit'] != 0:
            failures.append('%s: exits %s' % (where, result))
            continue
        got = comparable_state(os.path.join(runs_dir, 'crash-%s' % k))
        if got != want:
            diff = sorted(n for n in set(got) | set(want) if got.get(n) != want.get(n))
            failures.append('%s: differs in %s' % (where, diff))
    assert not failures, '\n'.join(failures)


def test_resume_logs_the_checkpoint_it_took(crash_report):
    runs_dir, report = crash_report
    # killed right after epoch 1's manifest was committed: resume continues from it
    k = next(i for i, op in enumerate(report['trace'], 1)
             if op == 'replace %s-1.partial.json' % PREFIX)
    with open(os.path.join(runs_dir, 'crash-%d.resume.log' % k)) as f:
        assert 'resumed from %s-1 (epoch 1 done' % PREFIX in f.read()


def run_in(tmp_path, data_dir, save_dir, extra=(), timeout=300):
    return run(SCRIPT, ['--data-dir', data_dir] + RUN + ['--save-dir', str(save_dir),
                                                          '--save-plot-dir', str(save_dir)]
               + list(extra), tmp_path, timeout=timeout)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith('error:')]


def test_a_truncated_newest_checkpoint_falls_back_and_says_so(tmp_path, data_dir, reference):
    out = tmp_path / 'run'
    shutil.copytree(reference, str(out))
    # epoch 2's parameters (the best's are the same file, a hard link, in a run's directory)
    damaged = [name for name in os.listdir(str(out))
               if name.endswith(('-2.params', '-2-best.params'))]
    assert len(damaged) == 2
    for name in damaged:
        (out / name).write_bytes((out / name).read_bytes()[:1000])
    proc = run_in(tmp_path, data_dir, out, ['--resume'])
    assert proc.returncode == 0, proc.stderr
    assert 'skipped checkpoint %s-2: %s-2.params has 1000 bytes' % (PREFIX, PREFIX) in proc.stderr
    assert '-2-best.params has 1000 bytes' in proc.stderr
    assert 'resumed from %s-1 (epoch 1 done' % PREFIX in proc.stderr
    assert comparable_state(str(out)) == comparable_state(reference)


def test_no_intact_checkpoint_exits_2_and_touches_nothing(tmp_path, data_dir, reference):
    out = tmp_path / 'run'
    shutil.copytree(reference, str(out))
    for name in os.listdir(str(out)):
        if name.endswith('.states'):
            (out / name).write_bytes(b'garbage')
    before = files_snapshot(str(out))
    proc = run_in(tmp_path, data_dir, out, ['--resume'])
    assert proc.returncode == 2, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert 'no intact checkpoint' in line and '%s-2.states has 7 bytes' % PREFIX in line
    assert 'Traceback' not in proc.stderr
    assert files_snapshot(str(out)) == before


@pytest.mark.parametrize('damage', ['not json', 'edited', 'other format', 'deleted'])
@pytest.mark.parametrize('resume', [False, True])
def test_unreadable_manifests_are_refused_with_files_unchanged(tmp_path, data_dir, reference,
                                                               damage, resume):
    out = tmp_path / 'run'
    shutil.copytree(reference, str(out))
    manifest = out / ('%s-2.json' % PREFIX)
    if damage == 'not json':
        manifest.write_text('{"epoch": 2, "files": ')
    elif damage in ('edited', 'other format'):
        info = json.loads(manifest.read_text())
        del info['files' if damage == 'edited' else 'format']
        manifest.write_text(json.dumps(info))
    else:
        for name in os.listdir(str(out)):
            if name.endswith('.json'):
                os.remove(str(out / name))
    before = files_snapshot(str(out))
    proc = run_in(tmp_path, data_dir, out, ['--resume'] if resume else [])
    assert proc.returncode == 2, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert 'Traceback' not in proc.stderr
    beside = '(beside %s-2.params, %s-2.states)' % (PREFIX, PREFIX)
    if damage == 'deleted':
        assert '%s-1.params' % PREFIX in line and 'no manifest names it' in line
    elif damage == 'not json':
        assert '%s-2.json is not readable JSON %s' % (PREFIX, beside) in line
    elif damage == 'other format':
        assert '%s-2.json is not a checkpoint manifest of format %s' % (PREFIX, FORMAT) in line
    else:
        assert '%s-2.json is an edited or incomplete checkpoint manifest %s' % (PREFIX, beside) \
            in line
    assert files_snapshot(str(out)) == before


def test_ctrl_c_keeps_the_checkpoints_and_resume_finishes_the_run(tmp_path, data_dir):
    epochs = ['--num-epochs', '8']
    whole, broken = tmp_path / 'whole', tmp_path / 'broken'
    assert run_in(tmp_path, data_dir, whole, epochs).returncode == 0
    args = [sys.executable, os.path.join(ROOT, SCRIPT), '--data-dir', data_dir] + RUN + epochs + [
        '--save-dir', str(broken), '--save-plot-dir', str(broken)]
    victim = subprocess.Popen(args, cwd=str(tmp_path), env=offline_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for_epochs(victim, broken, 2), 'the run ended before it could be interrupted'
    victim.send_signal(signal.SIGINT)
    _, stderr = victim.communicate(timeout=120)
    assert victim.returncode == 130, stderr
    assert 'Traceback' not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith('interrupted: at epoch') and '--resume' in last, last
    assert 'is complete' in last
    assert not [n for n in os.listdir(str(broken)) if '.partial.' in n]
    proc = run_in(tmp_path, data_dir, broken, epochs + ['--resume'])
    assert proc.returncode == 0, proc.stderr
    assert comparable_state(str(broken)) == comparable_state(str(whole))


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1.1 MB file system: one epoch's checkpoint of the b=1 model fits, a second does not."""
    mount_point = tmp_path / 'small'
    mount_point.mkdir()
    made = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1100k', 'tmpfs',
                           str(mount_point)], capture_output=True)
    if made.returncode != 0:
        pytest.skip('cannot mount a tmpfs here (not root?): %s' % made.stderr.decode().strip())
    yield mount_point
    subprocess.run(['umount', '-l', str(mount_point)])


def test_disk_full_keeps_the_previous_checkpoint_and_resumes(tmp_path, data_dir, reference,
                                                           small_tmpfs):
    out = small_tmpfs / 'run'
    proc = run_in(tmp_path, data_dir, out)
    assert proc.returncode == 4, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert '(No space left on device)' in line and 'the checkpoint of epoch 0 is intact' in line
    assert 'Traceback' not in proc.stderr
    assert not [n for n in os.listdir(str(out)) if '.partial.' in n]
    names = set(os.listdir(str(out)))
    assert {'%s-0.params' % PREFIX, '%s-0.json' % PREFIX} <= names
    assert '%s-1.json' % PREFIX not in names
    mx.nd.load(str(out / ('%s-0.params' % PREFIX)))
    # with room again, --resume finishes as if nothing had happened
    subprocess.run(['mount', '-o', 'remount,size=8m', str(small_tmpfs)], check=True)
    proc = run_in(tmp_path, data_dir, out, ['--resume'])
    assert proc.returncode == 0, proc.stderr
    assert comparable_state(str(out)) == comparable_state(reference)


@pytest.mark.parametrize('code,message', [(errno.ENOSPC, 'No space left on device'),
                                          (errno.EROFS, 'Read-only file system'),
                                          (errno.EACCES, 'Permission denied')])
def test_a_failing_write_ends_in_one_line_and_no_partial_file(tmp_path, data_dir, monkeypatch,
                                                              capsys, code, message):
    """A write error injected when epoch 1's trainer states are renamed into place."""
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(src).endswith('-1.partial.states'):
            raise OSError(code, os.strerror(code), src)
        return real_replace(src, dst)
    monkeypatch.setattr(os, 'replace', failing_replace)
    script = load(SCRIPT)
    out = tmp_path / 'run'
    status = script.run_main(script.main, ['--data-dir', data_dir] + RUN + [
        '--save-dir', str(out), '--save-plot-dir', str(out)])
    err = capsys.readouterr().err
    assert status == 4
    (line,) = error_lines(err)
    assert line.startswith('error: cannot write the checkpoint of epoch 1 in %s (%s)'
                           % (out, message)), line
    assert line.endswith('the checkpoint of epoch 0 is intact')
    names = os.listdir(str(out))
    assert not [n for n in names if '.partial.' in n]
    assert '%s-1.params' % PREFIX in names and '%s-1.json' % PREFIX not in names
    with open(str(out / 'metrics.jsonl')) as f:
        assert [json.loads(r)['epoch'] for r in f] == [0]
