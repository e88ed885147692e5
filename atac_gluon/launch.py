"""``python -m atac_gluon.launch``: start a distributed (ps-lite parameter server) MXNet job on this
machine, in place of ``mxnet/tools/launch.py``, which dies on Python 3.9+ and hangs when a worker
fails::

    python -m atac_gluon.launch -n 2 -s 1 -- python my_train.py --kvstore dist_sync ...

It starts one scheduler, ``-s`` servers (both ``python -c "import mxnet"`` with the ps-lite role in
the environment) and ``-n`` workers (the COMMAND after ``--``), all on 127.0.0.1 (``DMLC_INTERFACE=lo``,
a free port). Every output line is prefixed with its process: ``[scheduler]``, ``[server 0]``,
``[worker 1]``; stdout goes to stdout, stderr to stderr. Each worker gets ``ATAC_WORKER_RANK`` (its
index here, a hint only: ps-lite assigns its own ranks, and ``kv.rank`` is the authority).

Exit codes: 0 when every worker exited 0 (the scheduler and servers are then given a few seconds to
exit, and stopped if they do not); when any process exits non-zero or is killed, every other
process is stopped (SIGTERM to its process group, SIGKILL after a grace period), one ``error:``
line names it, and the exit code is that process's code (128 + the signal number when it was
killed); 2 for bad arguments (one ``error:`` line); 130 on Ctrl-C (SIGINT) or SIGTERM, after
stopping everything.

``--launcher ssh -H HOSTFILE`` runs the roles on other machines, each through its own ``ssh -o
BatchMode=yes -o StrictHostKeyChecking=accept-new [-p PORT] HOST 'cd CWD && env ... CMD'``::

    python -m atac_gluon.launch -n 4 -s 2 --launcher ssh -H hosts.txt -- python train.py ...

HOSTFILE lists one host per line, ``host`` or ``host:port`` (``#`` starts a comment; ``--ssh-port``
is the port of hosts without one). The scheduler runs on the first host; the servers and then the
workers are placed round-robin over the hosts (server i and worker i on host i mod H).
``DMLC_PS_ROOT_URI`` is ``--host-ip`` or else the first host's name, so it must be an address every
host reaches; the scheduler's port is one free on this machine. A host written as an IP address
is also the address its processes announce (``DMLC_NODE_HOST``); ``DMLC_INTERFACE`` is passed on
only if set here. Every host needs passwordless (key) ssh, a POSIX login shell, the same working
directory path as here, and this Python (``sys.executable``, with mxnet) at the same path: servers
and the scheduler run ``python -c "import mxnet"``, and each remote command runs under a small
Python guard that stops it (SIGTERM to its process group, SIGKILL after the grace period) as soon
as its ssh connection closes, so stopping the local ssh stops the remote process too. The remote
environment has only the ps-lite variables, ``ATAC_WORKER_RANK``, ``PYTHONUNBUFFERED``, the
variables here whose names start with ``DMLC_``, ``PS_``, ``MXNET_``, ``OMP_``, ``KMP_`` or
``ATAC_``, and those named by ``-e NAME`` / ``-e NAME=VALUE`` (``PATH`` is the remote login's:
best give COMMAND's program as an absolute path). More ssh arguments (``-i KEY``,
``-o ...``): ``--ssh-option OPTION`` (each becomes ``-o OPTION``) and the ``ATAC_SSH_OPTIONS``
variable (split like a shell would). A role killed by a signal on its host is reported by exit code
(137 = 128 + SIGKILL); 255 is ssh's own failure (connection, authentication).
"""
import argparse
import errno
import ipaddress
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

from .errors import BadInput, Interrupted, run_main

__all__ = ['main', 'launch', 'ProcessFailed', 'free_port', 'role_env', 'read_hostfile']

GRACE = 3.0    # seconds between SIGTERM and SIGKILL when stopping a process group
LINGER = 10.0  # seconds the scheduler and servers get to exit after the workers finished
POLL = 0.05
FORWARDED = ('DMLC_', 'PS_', 'MXNET_', 'OMP_', 'KMP_', 'ATAC_')  # passed on to remote roles
SSH_OPTIONS_ENV = 'ATAC_SSH_OPTIONS'

# Runs each remote command (argv[2:]) in its own session; when its stdin (the ssh channel) closes,
# the command's process group gets SIGTERM and, after argv[1] seconds, SIGKILL. Exits with the
# command's code (128 + N when signal N killed it).
_GUARD = r'''
import os, signal, subprocess, sys, threading, time
grace = float(sys.argv[1])
child = subprocess.Popen(sys.argv[2:], start_new_session=True)
gone = threading.Event()
def watch():
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    gone.set()
threading.Thread(target=watch, daemon=True).start()
def exited():
    return os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
def kill(signum):
    try:
        os.killpg(child.pid, signum)
    except OSError:
        pass
while not exited():
    if gone.wait(0.05):
        kill(signal.SIGTERM)
        end = time.monotonic() + grace
        while not exited() and time.monotonic() < end:
            time.sleep(0.05)
        break
kill(signal.SIGKILL)
code = child.wait()
os._exit(128 - code if code < 0 else code)
'''


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


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises BadInput (one ``error:`` line, exit 2) instead of printing usage."""

    def error(self, message):
        raise BadInput(message)


def free_port(host='127.0.0.1'):
    """A TCP port on ``host`` that is free right now (bind to port 0 and let the kernel choose).

    Parameters
    ----------
    host : str
        The address to bind.

    Returns
    -------
    int
        The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def role_env(role, index, num_workers, num_servers, port, base=None):
    """The environment of one ps-lite process.

    Parameters
    ----------
    role : {'scheduler', 'server', 'worker'}
        The ps-lite role (``DMLC_ROLE``).
    index : int
        The process's index within its role (``DMLC_TASK_ID``; ``ATAC_WORKER_RANK`` for workers).
    num_workers, num_servers : int
        ``DMLC_NUM_WORKER`` and ``DMLC_NUM_SERVER``.
    port : int
        The scheduler's port on 127.0.0.1 (``DMLC_PS_ROOT_PORT``).
    base : dict, optional
        The environment to start from (default: this process's).

    Returns
    -------
    dict
        The environment for ``subprocess.Popen``.
    """
    env = dict(os.environ if base is None else base)
    env.update({'DMLC_ROLE': role, 'DMLC_PS_ROOT_URI': '127.0.0.1', 'DMLC_PS_ROOT_PORT': str(port),
                'DMLC_NUM_WORKER': str(num_workers), 'DMLC_NUM_SERVER': str(num_servers),
                'DMLC_INTERFACE': 'lo', 'DMLC_TASK_ID': str(index), 'DMLC_JOB_CLUSTER': 'local'})
    env.setdefault('PYTHONUNBUFFERED', '1')  # lines arrive as they are printed, not at exit
    if role == 'worker':
        env['ATAC_WORKER_RANK'] = str(index)
    else:
        env.pop('ATAC_WORKER_RANK', None)
        env.setdefault('OMP_NUM_THREADS', '1')  # the scheduler and servers only sum arrays
    return env


def read_hostfile(path, default_port=None):
    """The hosts of an ssh launch: one ``host`` or ``host:port`` a line, ``#`` comments.

    Parameters
    ----------
    path : str
        The host file.
    default_port : int, optional
        The port of hosts given without one (None: ssh's default).

    Returns
    -------
    list of (str, int or None)
        The hosts in file order, each with its ssh port.

    Raises
    ------
    BadInput
        The file cannot be read, lists no host, or has a bad line.
    """
    try:
        with open(path) as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput('-H %s: cannot read the host file: %s' % (
            path, getattr(error, 'strerror', None) or error)) from None
    hosts = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split('#', 1)[0].strip()
        if not entry:
            continue
        host, sep, port = entry.partition(':')
        bad = not host or any(c.isspace() for c in entry) or ':' in port
        if not bad and sep:
            bad = not port.isdigit() or not 0 < int(port) < 65536
        if bad:
            raise BadInput('-H %s line %d: %r is not host or host:port (port 1-65535)' % (
                path, number, entry))
        hosts.append((host, int(port) if sep else default_port))
    if not hosts:
        raise BadInput('-H %s: no hosts in the host file' % path)
    return hosts


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _ssh_command(host, port, environ, command, ssh_options, grace):
    """The local ssh argv that runs ``command`` under the guard on ``host``, in this directory."""
    remote = 'cd %s && exec env %s %s' % (
        shlex.quote(os.getcwd()),
        ' '.join(shlex.quote('%s=%s' % item) for item in sorted(environ.items())),
        ' '.join(shlex.quote(arg) for arg in
                 [sys.executable, '-c', _GUARD, '%g' % (grace / 2)] + list(command)))
    return (['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new',
             '-o', 'LogLevel=ERROR'] + (['-p', str(port)] if port else [])
            + list(ssh_options) + [host, remote])


def _remote_env(environ, base, root_uri, host, forward):
    """Of a role's full environment, what is passed to its remote command."""
    env = {key: value for key, value in environ.items()
           if key.startswith(FORWARDED) and key != SSH_OPTIONS_ENV}
    env['PYTHONUNBUFFERED'] = environ.get('PYTHONUNBUFFERED', '1')
    env.update({'DMLC_PS_ROOT_URI': root_uri, 'DMLC_JOB_CLUSTER': 'ssh'})
    if 'DMLC_INTERFACE' in base:
        env['DMLC_INTERFACE'] = base['DMLC_INTERFACE']
    else:
        env.pop('DMLC_INTERFACE', None)
        if _is_ip(host) and 'DMLC_NODE_HOST' not in base:
            env['DMLC_NODE_HOST'] = host
    for item in forward:
        name, sep, value = item.partition('=')
        if not name or not name.replace('_', 'a').isalnum() or name[0].isdigit():
            raise BadInput('-e %s: not NAME or NAME=VALUE' % item)
        if sep:
            env[name] = value
        elif name in base:
            env[name] = base[name]
    return env


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
    """One started process: its Popen, the threads that copy its output, whether it is reaped."""

    def __init__(self, name, cmd, env, out, err, lock, remote=False):
        self.name = name
        self.remote = remote  # an ssh: its stdin stays open until it is to stop (see terminate)
        self.popen = subprocess.Popen(cmd, env=env,
                                      stdin=subprocess.PIPE if remote else subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True)
        self.code = None
        self.readers = [threading.Thread(target=_copy_lines, daemon=True,
                                         args=(stream, target, '[%s] ' % name, lock))
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
        if self.remote and self.popen.stdin is not None:
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
    deadline = time.monotonic() + grace * (2 if any(proc.remote for proc in alive) else 1)
    while time.monotonic() < deadline and not all(proc.exited() for proc in alive):
        time.sleep(POLL)
    for proc in alive:
        if not proc.exited():
            proc.signal_group(signal.SIGKILL)
    deadline = time.monotonic() + 10.0  # SIGKILL is prompt unless a process is stuck in the kernel
    while time.monotonic() < deadline and not all(proc.exited() for proc in alive):
        time.sleep(POLL)


def launch(command, num_workers, num_servers, launcher='local', env=None, grace=GRACE,
           linger=LINGER, out=None, err=None, hosts=None, host_ip=None, ssh_options=(),
           forward=()):
    """Run a ps-lite job: a scheduler, servers and workers running ``command``, on this machine
    (``launcher='local'``) or on ``hosts`` through ssh (``launcher='ssh'``, see the module doc).

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
    if launcher not in ('local', 'ssh'):
        raise BadInput('--launcher %s: unknown launcher (local or ssh)' % launcher)
    if launcher == 'ssh' and not hosts:
        raise BadInput('--launcher ssh needs -H HOSTFILE')
    if launcher == 'local' and (hosts or host_ip or forward):
        raise BadInput('-H, --host-ip and -e are for --launcher ssh only')
    if num_workers < 1:
        raise BadInput('-n %d: need at least 1 worker' % num_workers)
    if num_servers < 1:
        raise BadInput('-s %d: need at least 1 server' % num_servers)
    if not command:
        raise BadInput('no COMMAND: give the worker command after --')
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    port = free_port()
    role_cmd = [sys.executable, '-c', 'import mxnet']
    plan = ([('scheduler', role_cmd, role_env('scheduler', 0, num_workers, num_servers, port, env))]
            + [('server %d' % i, role_cmd,
                role_env('server', i, num_workers, num_servers, port, env))
               for i in range(num_servers)]
            + [('worker %d' % i, list(command),
                role_env('worker', i, num_workers, num_servers, port, env))
               for i in range(num_workers)])
    remote = [None] * len(plan)
    if launcher == 'ssh':
        base = dict(os.environ if env is None else env)
        ssh_options = list(ssh_options)
        try:
            ssh_options += shlex.split(base.get(SSH_OPTIONS_ENV, ''))
        except ValueError as error:
            raise BadInput('%s: %s' % (SSH_OPTIONS_ENV, error)) from None
        root_uri = host_ip or hosts[0][0]
        placed = [hosts[0]] + [hosts[i % len(hosts)] for i in range(num_servers)] + [
            hosts[i % len(hosts)] for i in range(num_workers)]
        for i, ((name, cmd, role_environ), (host, ssh_port)) in enumerate(zip(plan, placed)):
            remote_env = _remote_env(role_environ, base, root_uri, host, forward)
            plan[i] = (name, _ssh_command(host, ssh_port, remote_env, cmd, ssh_options, grace),
                       base)
            remote[i] = host

    caught = []
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, lambda num, _frame: caught.append(num))
    lock = threading.Lock()
    processes = []
    try:
        for (name, cmd, role_environ), host in zip(plan, remote):
            if caught:
                break
            try:
                processes.append(_Process(name, cmd, role_environ, out, err, lock,
                                          remote=host is not None))
            except OSError as error:
                raise BadInput('cannot start %s: %s' % (name, error)) from None
        workers = [proc for proc in processes if proc.name.startswith('worker')]
        others = [proc for proc in processes if not proc.name.startswith('worker')]
        deadline = None
        while not caught:
            failed = next((proc for proc in processes if proc.exited() and proc.code != 0), None)
            if failed is not None:
                rest = [proc for proc in processes if proc is not failed and not proc.exited()]
                _stop(rest, grace)
                what, code = _describe(failed.code, failed.remote)
                if failed.remote:
                    what = 'on %s %s' % (remote[processes.index(failed)], what)
                raise ProcessFailed('%s %s; stopped the other %s' % (
                    failed.name, what, _plural(len(rest), 'process')), code)
            if all(proc.exited() for proc in processes):
                return 0
            if all(proc.exited() for proc in workers):
                deadline = deadline or time.monotonic() + linger
                if time.monotonic() > deadline:
                    rest = [proc for proc in others if not proc.exited()]
                    _stop(rest, grace)
                    with lock:
                        err.write('warning: every worker exited 0, but %s did not exit within '
                                  '%g s; stopped %s\n' % (', '.join(p.name for p in rest), linger,
                                                          'it' if len(rest) == 1 else 'them'))
                        err.flush()
                    return 0
            time.sleep(POLL)
        rest = [proc for proc in processes if not proc.exited()]
        _stop(rest, grace)
        raise Interrupted('%s; stopped %s of the launch' % (
            signal.Signals(caught[0]).name, _plural(len(rest), 'process')))
    finally:
        try:
            _stop(processes, grace)  # a no-op unless something above failed unexpectedly
            for proc in processes:
                proc.close()
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)


def main(argv=None):
    """Parse the command line and run the launch.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``): options, then ``--`` and the worker command.

    Raises
    ------
    BadInput
        Bad arguments (exit code 2 through ``run_main``).
    SystemExit
        With the failed process's code, after one ``error:`` line on stderr.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _ArgumentParser(
        prog='python -m atac_gluon.launch',
        usage='%(prog)s -n WORKERS -s SERVERS [--launcher local|ssh -H HOSTFILE [--ssh-port N] '
              '[--host-ip IP] [--ssh-option OPT] [-e NAME[=VALUE]]] -- COMMAND ...',
        description='Run a distributed MXNet (ps-lite) job on this machine or over ssh.')
    parser.add_argument('-n', '--num-workers', type=int, required=True, help='number of workers')
    parser.add_argument('-s', '--num-servers', type=int, required=True, help='number of servers')
    parser.add_argument('--launcher', default='local', help="'local' (default) or 'ssh'")
    parser.add_argument('-H', '--hostfile', help='ssh: one host or host:port a line')
    parser.add_argument('--ssh-port', type=int, help='ssh: port of hosts given without one')
    parser.add_argument('--host-ip', help="ssh: the scheduler's address (default: first host)")
    parser.add_argument('--ssh-option', action='append', default=[],
                        help='ssh: an ssh -o option (repeatable); see also ATAC_SSH_OPTIONS')
    parser.add_argument('-e', '--env', action='append', default=[], dest='forward',
                        help='ssh: pass variable NAME, or set NAME=VALUE, remotely (repeatable)')
    if '--' not in argv:
        if any(arg in ('-h', '--help') for arg in argv):
            parser.parse_args(argv)
        raise BadInput('no COMMAND: give the worker command after --')
    split = argv.index('--')
    args = parser.parse_args(argv[:split])
    if args.ssh_port is not None and not 0 < args.ssh_port < 65536:
        raise BadInput('--ssh-port %d: not a port (1-65535)' % args.ssh_port)
    if args.launcher == 'ssh' and args.hostfile is None:
        raise BadInput('--launcher ssh needs -H HOSTFILE')
    if args.launcher != 'ssh' and (args.hostfile or args.ssh_port or args.host_ip
                                   or args.ssh_option or args.forward):
        raise BadInput('-H, --ssh-port, --host-ip, --ssh-option and -e are for --launcher ssh')
    hosts = read_hostfile(args.hostfile, args.ssh_port) if args.launcher == 'ssh' else None
    ssh_options = [arg for option in args.ssh_option for arg in ('-o', option)]
    try:
        launch(argv[split + 1:], args.num_workers, args.num_servers, launcher=args.launcher,
               hosts=hosts, host_ip=args.host_ip, ssh_options=ssh_options, forward=args.forward)
    except ProcessFailed as failure:
        print('error: %s' % failure, file=sys.stderr)
        sys.stderr.flush()
        raise SystemExit(failure.code) from None


def entry():
    """Console entry point (setup.py)."""
    sys.exit(run_main(main))


if __name__ == '__main__':
    entry()
