"""Running a planned launch: start every role, copy its output line by line behind its prefix,
watch for the first failure, SIGINT or SIGTERM, stop everything, and say how it ended
(:class:`ProcessFailed`, :class:`~atac_gluon.errors.Interrupted`, or 0)."""
import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading
import time

from ..errors import BadInput, Interrupted
from .plan import GRACE, LINGER, build_plan

__all__ = ['ProcessFailed', 'launch', 'supervise', 'POLL']

POLL = 0.05


class ProcessFailed(RuntimeError):
    """A process of the launch exited non-zero or was killed; the others were stopped.

    Parameters
    ----------
    message : str
        One line naming the process and its exit code.
    code : int
        The launcher's exit code: the process's own code, or 128 + the signal that killed it.
    """

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def launch(command, num_workers, num_servers, launcher='local', env=None, grace=GRACE,
           linger=LINGER, out=None, err=None, hosts=None, host_ip=None, ssh_options=(),
           forward=()):
    """Run a ps-lite job: a scheduler, servers and workers running ``command``, on this machine
    (``launcher='local'``) or on ``hosts`` through ssh (``launcher='ssh'``, see the package doc).

    Parameters
    ----------
    command : list of str
        The worker command (program and arguments), started once per worker.
    num_workers : int
        Number of workers (at least 1).
    num_servers : int
        Number of servers (at least 1).
    launcher : {'local', 'ssh'}
        Where the processes run.
    env : dict, optional
        The environment the roles' variables are added to (default: this process's).
    grace : float
        Seconds between SIGTERM and SIGKILL when stopping processes.
    linger : float
        Seconds the scheduler and servers get to exit after every worker exited 0.
    out, err : file, optional
        Where the prefixed output lines go (default: ``sys.stdout`` and ``sys.stderr``).
    hosts : list of (str, int or None), optional
        ssh only (required): the hosts and their ssh ports, as from ``read_hostfile``.
    host_ip : str, optional
        ssh only: ``DMLC_PS_ROOT_URI`` (default: the first host's name).
    ssh_options : list of str
        ssh only: more ssh arguments, before the host.
    forward : list of str
        ssh only: ``NAME`` (pass this variable on) or ``NAME=VALUE`` for the remote commands.

    Returns
    -------
    int
        0: every process exited 0 (or the scheduler and servers were stopped after the workers
        finished, with a ``warning:`` line on ``err``).

    Raises
    ------
    BadInput
        Bad numbers, an empty command, another launcher, or a command that cannot be started.
    ProcessFailed
        A process exited non-zero or was killed; all others were stopped.
    Interrupted
        SIGINT or SIGTERM reached this process (in the main thread); all processes were stopped.
    """
    plan = build_plan(command, num_workers, num_servers, launcher=launcher, env=env,
                      hosts=hosts, host_ip=host_ip, ssh_options=ssh_options, forward=forward,
                      grace=grace)
    return supervise(plan, grace=grace, linger=linger, out=out, err=err)


def supervise(plan, grace=GRACE, linger=LINGER, out=None, err=None):
    """Start the roles of ``plan`` in order and watch them until the launch ends.

    Parameters
    ----------
    plan : LaunchPlan
        What to start (:func:`~atac_gluon.launch.plan.build_plan`).
    grace, linger, out, err
        As for :func:`launch`.

    Returns
    -------
    int
        0, when every process exited 0 (or only the scheduler and servers had to be stopped).

    Raises
    ------
    BadInput
        A role's program cannot be started (the roles started before it are stopped).
    ProcessFailed
        A process exited non-zero or was killed; all others were stopped.
    Interrupted
        SIGINT or SIGTERM reached this process (in the main thread); all processes were stopped.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    lock = threading.Lock()
    processes = []
    with _signals_caught() as caught:
        try:
            for role in plan.roles:
                if caught:
                    break
                try:
                    processes.append(_Process(role, out, err, lock))
                except OSError as error:
                    raise BadInput('cannot start %s: %s' % (role.name, error)) from None
            if not caught:
                code = _watch(processes, caught, grace, linger, err, lock)
                if code is not None:
                    return code
            rest = [proc for proc in processes if not proc.exited()]
            _stop(rest, grace)
            raise Interrupted('%s; stopped %s of the launch' % (
                signal.Signals(caught[0]).name, _plural(len(rest), 'process')))
        finally:
            _stop(processes, grace)  # a no-op unless something above failed unexpectedly
            for proc in processes:
                proc.close()


@contextlib.contextmanager
def _signals_caught():
    """Within: SIGINT and SIGTERM (in the main thread only) are appended to the yielded list
    instead of acting; afterwards the previous handlers are back."""
    caught = []
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, lambda num, _frame: caught.append(num))
    try:
        yield caught
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _watch(processes, caught, grace, linger, err, lock):
    """Poll until every process exited 0 (returns 0), the workers exited 0 and the others
    outstayed ``linger`` (stops them, warns, returns 0), one failed (stops the others, raises
    ProcessFailed) or a signal was caught (returns None)."""
    workers = [proc for proc in processes if proc.role.kind == 'worker']
    others = [proc for proc in processes if proc.role.kind != 'worker']
    deadline = None
    while not caught:
        failed = next((proc for proc in processes if proc.exited() and proc.code != 0), None)
        if failed is not None:
            rest = [proc for proc in processes if proc is not failed and not proc.exited()]
            _stop(rest, grace)
            what, code = _describe(failed.code, failed.role.remote)
            if failed.role.remote:
                what = 'on %s %s' % (failed.role.host, what)
            raise ProcessFailed('%s %s; stopped the other %s' % (
                failed.role.name, what, _plural(len(rest), 'process')), code)
        if all(proc.exited() for proc in processes):
            return 0
        if all(proc.exited() for proc in workers):
            deadline = deadline or time.monotonic() + linger
            if time.monotonic() > deadline:
                rest = [proc for proc in others if not proc.exited()]
                _stop(rest, grace)
                with lock:
                    err.write('warning: every worker exited 0, but %s did not exit within '
                              '%g s; stopped %s\n' % (', '.join(p.role.name for p in rest),
                                                      linger, 'it' if len(rest) == 1 else 'them'))
                    err.flush()
                return 0
        time.sleep(POLL)
    return None


def _describe(code, remote=False):
    """``exited with code -9 (killed by SIGKILL)`` and the launcher's exit code for it."""
    if remote and code == 255:
        return 'exited with code 255 (ssh failed, or the remote command exited 255)', code
    if remote and code > 128:
        try:
            return 'exited with code %d (killed by %s)' % (
                code, signal.Signals(code - 128).name), code
        except ValueError:
            pass
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = 'signal %d' % -code
        return 'exited with code %d (killed by %s)' % (code, name), 128 - code
    return 'exited with code %d' % code, code


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 'es')


class _Process:
    """One started role: its Popen, the threads that copy its output, whether it is reaped."""

    def __init__(self, role, out, err, lock):
        self.role = role
        # an ssh's stdin stays open until it is to stop (see terminate)
        self.popen = subprocess.Popen(role.argv, env=role.env,
                                      stdin=subprocess.PIPE if role.remote else subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True)
        self.code = None
        self.readers = [threading.Thread(target=_copy_lines, daemon=True,
                                         args=(stream, target, '[%s] ' % role.name, lock))
                        for stream, target in ((self.popen.stdout, out), (self.popen.stderr, err))]
        for reader in self.readers:
            reader.start()

    def exited(self):
        """True once the process has exited; then its group is killed and it is reaped.

        The exit is seen with ``WNOWAIT``, so the process group is signalled while the zombie
        still holds its id (no chance of hitting a reused id): whatever the process left behind
        in its group (children of a shell COMMAND) goes with it.
        """
        if self.code is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere (its id may be reused: no killpg)
            self.code = self.popen.wait()
            return True
        if info is None:
            return False
        self.signal_group(signal.SIGKILL)
        self.code = self.popen.wait()
        return True

    def terminate(self):
        """Ask the process to stop: SIGTERM to its group; for an ssh, close its stdin instead,
        so the remote guard stops the remote command and then ssh exits on its own."""
        if self.role.remote and self.popen.stdin is not None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        else:
            self.signal_group(signal.SIGTERM)

    def signal_group(self, signum):
        """Send ``signum`` to the process's group (its own session), ignoring a gone group."""
        try:
            os.killpg(self.popen.pid, signum)
        except OSError as err:  # ESRCH: nothing left in the group; EPERM: a reused id
            if err.errno not in (errno.ESRCH, errno.EPERM):
                raise

    def close(self, timeout=2.0):
        """Wait for the output threads to copy the last lines."""
        for reader in self.readers:
            reader.join(timeout)


def _copy_lines(stream, target, prefix, lock):
    """Copy ``stream`` line by line to ``target`` (a text file), each line after ``prefix``."""
    with stream:
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', errors='replace').rstrip('\r\n')
            with lock:
                try:
                    target.write(prefix + line + '\n')
                    target.flush()
                except (OSError, ValueError):  # a closed or broken terminal: keep draining
                    pass


def _stop(processes, grace=GRACE):
    """Stop ``processes``: SIGTERM to each group, SIGKILL to those still running after ``grace``
    seconds; every process is reaped when this returns."""
    alive = [proc for proc in processes if not proc.exited()]
    for proc in alive:
        proc.terminate()
    # an ssh gets longer: its remote guard waits grace / 2 before SIGKILL, then ssh must exit
    deadline = time.monotonic() + grace * (2 if any(proc.role.remote for proc in alive) else 1)
    while time.monotonic() < deadline and not all(proc.exited() for proc in alive):
        time.sleep(POLL)
    for proc in alive:
        if not proc.exited():
            proc.signal_group(signal.SIGKILL)
    deadline = time.monotonic() + 10.0  # SIGKILL is prompt unless a process is stuck in the kernel
    while time.monotonic() < deadline and not all(proc.exited() for proc in alive):
        time.sleep(POLL)
