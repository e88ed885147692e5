"""The remote end of an ssh launch: run a role's command, and stop it when the ssh connection
closes::

    python guard.py GRACE COMMAND ...
    python -m atac_gluon.launch.guard GRACE COMMAND ...

COMMAND runs in its own session. When this process's stdin (the ssh channel) reaches its end or
fails, COMMAND's process group gets SIGTERM and, after GRACE seconds, SIGKILL (whatever is left
of the group gets SIGKILL when COMMAND exits anyway). The exit code is COMMAND's (128 + N when
signal N killed it).

Standard library only, and nothing of atac_gluon: the ssh launcher sends this file's source to
the remote Python as ``python -c SOURCE GRACE COMMAND ...`` (see
:func:`atac_gluon.launch.plan.guard_source`), so a host needs the Python, not this package.
"""
import os
import signal
import subprocess
import sys
import threading
import time

POLL = 0.05


def _wait_for_eof(gone):
    """Read stdin until its end (or an error), then set ``gone``."""
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    gone.set()


def _exited(pid):
    """Whether child ``pid`` has exited, without reaping it (its id still names its group)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_group(pid, signum):
    try:
        os.killpg(pid, signum)
    except OSError:
        pass


def guard(grace, command):
    """Run ``command`` until it exits or stdin closes; return its exit code (128 + N for signal N).

    Parameters
    ----------
    grace : float
        Seconds between SIGTERM and SIGKILL once stdin has closed.
    command : list of str
        The program and its arguments.
    """
    child = subprocess.Popen(command, start_new_session=True)
    gone = threading.Event()
    threading.Thread(target=_wait_for_eof, args=(gone,), daemon=True).start()
    while not _exited(child.pid):
        if gone.wait(POLL):
            _kill_group(child.pid, signal.SIGTERM)
            end = time.monotonic() + grace
            while not _exited(child.pid) and time.monotonic() < end:
                time.sleep(POLL)
            break
    _kill_group(child.pid, signal.SIGKILL)
    code = child.wait()
    return 128 - code if code < 0 else code


def main(argv=None):
    """``GRACE COMMAND ...`` (default: ``sys.argv[1:]``); exits with the command's code at once
    (``os._exit``: the thread reading stdin may still be blocked in its read)."""
    argv = sys.argv[1:] if argv is None else argv
    os._exit(guard(float(argv[0]), argv[1:]))


if __name__ == '__main__':
    main()
