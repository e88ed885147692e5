"""Running the training scripts from tests: as subprocesses (end to end, kill -9) or in-process
(fast checks of flags)."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def offline_env(tmp_path):
    """Environment with an empty MXNet home and MXNet's download pointed at a closed port."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, MXNET_HOME=str(tmp_path / 'mxnet-home'),
               MXNET_GLUON_REPO='http://127.0.0.1:%d/' % port, PYTHONPATH=ROOT)
    return env


def script_path(name):
    return os.path.join(ROOT, name)


def run(name, args, tmp_path, timeout=300):
    """Run script ``name`` with ``args``; return the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, script_path(name)] + list(args), cwd=str(tmp_path),
                          env=offline_env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def run_module(module, args, tmp_path, timeout=300):
    """Run ``python -m module`` with ``args``; return the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, '-m', module] + list(args), cwd=str(tmp_path),
                          env=offline_env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def start(name, args, tmp_path):
    """Start script ``name`` in the background; return the Popen."""
    return subprocess.Popen([sys.executable, script_path(name)] + list(args), cwd=str(tmp_path),
                            env=offline_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def load(name):
    """Import script ``name`` as a module (its main and parse_args become callable)."""
    spec = importlib.util.spec_from_file_location(name[:-3], script_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def records(save_dir):
    """The metrics.jsonl records of a run directory."""
    with open(os.path.join(str(save_dir), 'metrics.jsonl')) as f:
        return [json.loads(line) for line in f]


def kill_and_resume(name, args, save_dir, tmp_path, epochs, extra=()):
    """Start script ``name`` with ``args`` (which save to ``save_dir``), SIGKILL it once it has
    written ``epochs`` metrics lines, check the kill left the run unfinished at that point, then
    run it again with ``--resume`` (and ``extra``); returns that CompletedProcess, checked to
    have resumed."""
    import signal
    victim = start(name, args, tmp_path)
    assert wait_for_epochs(victim, save_dir, epochs), 'the run ended before it could be killed'
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed = [r['epoch'] for r in records(save_dir)]
    assert killed[:epochs] == list(range(epochs))
    proc = run(name, list(args) + ['--resume'] + list(extra), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed from' in proc.stderr
    assert len(records(save_dir)) > len(killed), 'the run had ended before it was killed'
    return proc


def comparable(lines):
    """metrics.jsonl records without their timings, which differ from run to run."""
    return [{k: v for k, v in r.items() if k not in ('time', 'samples_per_sec')} for r in lines]


def wait_for_epochs(proc, save_dir, epochs, timeout=120):
    """Wait until the run ``proc`` has written ``epochs`` metrics lines; True if it is still
    running then (so it can be killed or interrupted mid-run)."""
    metrics = os.path.join(str(save_dir), 'metrics.jsonl')
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(metrics):
            with open(metrics) as f:
                if len(f.read().splitlines()) >= epochs:
                    break
        time.sleep(0.02)
    return proc.poll() is None
