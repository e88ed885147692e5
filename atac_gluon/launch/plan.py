"""What a launch starts, worked out before anything starts: one :class:`Role` per process
(scheduler, servers, workers), its command, its environment and, for ``--launcher ssh``, its host
and the ssh command that runs it there. Pure: no process is started (:func:`free_port` binds a
socket for a moment when no port is given), so every placement and environment rule is unit
tested without ps-lite, mxnet or ssh."""
import ipaddress
import os
import pkgutil
import shlex
import socket
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import BadInput

__all__ = ['Role', 'LaunchPlan', 'build_plan', 'free_port', 'role_env', 'read_hostfile',
           'guard_source', 'GRACE', 'LINGER', 'FORWARDED', 'SSH_OPTIONS_ENV', 'SERVER_PROGRAM']

#: what the scheduler and the servers run: importing mxnet runs the role in DMLC_ROLE. On
#: NumPy >= 1.24 or Python >= 3.12 mxnet imports only after atac_gluon.compat's fixes; a host
#: without atac_gluon still runs plain mxnet, as before
SERVER_PROGRAM = ('try:\n    import atac_gluon.compat\nexcept ImportError:\n    pass\n'
                  'import mxnet')

GRACE = 3.0    # seconds between SIGTERM and SIGKILL when stopping a process group
LINGER = 10.0  # seconds the scheduler and servers get to exit after the workers finished
FORWARDED = ('DMLC_', 'PS_', 'MXNET_', 'OMP_', 'KMP_', 'ATAC_')  # passed on to remote roles
SSH_OPTIONS_ENV = 'ATAC_SSH_OPTIONS'
LAUNCHERS = ('local', 'ssh')

Host = Tuple[str, Optional[int]]  # a host name or address, and its ssh port (None: ssh's)


@dataclass(frozen=True)
class Role:
    """One process of the launch, as it is started on this machine.

    Attributes
    ----------
    name : str
        ``'scheduler'``, ``'server 0'``, ``'worker 1'``: the prefix of its output lines.
    kind : str
        The ps-lite role: ``'scheduler'``, ``'server'`` or ``'worker'``.
    argv : list of str
        What is started here: the role's command, or the ssh that runs it on ``host``.
    env : dict
        The environment of what is started here (for ssh: this machine's, given to ssh).
    host : str or None
        The host the role runs on (ssh), None for this machine.
    remote_env : dict or None
        ssh: the environment the remote command gets (through ``env`` in the remote shell).
    """
    name: str
    kind: str
    argv: List[str]
    env: Dict[str, str]
    host: Optional[str] = None
    remote_env: Optional[Dict[str, str]] = None

    @property
    def remote(self) -> bool:
        """Whether the role runs through ssh."""
        return self.host is not None


@dataclass(frozen=True)
class LaunchPlan:
    """The processes of a launch in starting order: the scheduler, the servers, the workers.

    Attributes
    ----------
    roles : tuple of Role
        Every process.
    port : int
        The scheduler's port (``DMLC_PS_ROOT_PORT``).
    root_uri : str
        The scheduler's address (``DMLC_PS_ROOT_URI``) as the roles see it.
    """
    roles: Tuple[Role, ...]
    port: int
    root_uri: str

    @property
    def workers(self) -> Tuple[Role, ...]:
        """The worker roles, in index order (``ATAC_WORKER_RANK``)."""
        return tuple(role for role in self.roles if role.kind == 'worker')


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


def guard_source():
    """The source of :mod:`atac_gluon.launch.guard`, which each ssh role runs as ``python -c``:
    read as data, not imported (a remote host needs no atac_gluon, and importing it would load
    mxnet)."""
    return pkgutil.get_data(__name__.rsplit('.', 1)[0], 'guard.py').decode('utf-8')


def build_plan(command: Sequence[str], num_workers: int, num_servers: int,
               launcher: str = 'local', env: Optional[Dict[str, str]] = None,
               hosts: Optional[Sequence[Host]] = None, host_ip: Optional[str] = None,
               ssh_options: Sequence[str] = (), forward: Sequence[str] = (),
               grace: float = GRACE, port: Optional[int] = None,
               python: Optional[str] = None, cwd: Optional[str] = None) -> LaunchPlan:
    """Check the arguments of a launch and plan its processes (the arguments of
    :func:`atac_gluon.launch.launch`, plus what the plan would otherwise take from here).

    Parameters
    ----------
    command, num_workers, num_servers, launcher, env, hosts, host_ip, ssh_options, forward, grace
        As for :func:`atac_gluon.launch.launch`.
    port : int, optional
        The scheduler's port (default: one free on this machine now).
    python : str, optional
        The Python of the scheduler, the servers and the remote guard (default:
        ``sys.executable``).
    cwd : str, optional
        The directory the remote commands run in (default: this process's).

    Raises
    ------
    BadInput
        Bad numbers, an empty command, another launcher, launcher options that do not go
        together, an ``ATAC_SSH_OPTIONS`` that does not split, or a bad ``-e``.
    """
    _check(command, num_workers, num_servers, launcher, hosts, host_ip, forward)
    port = free_port() if port is None else port
    python = sys.executable if python is None else python
    server_cmd = [python, '-c', SERVER_PROGRAM]
    planned = ([('scheduler', 0, server_cmd)]
               + [('server', i, server_cmd) for i in range(num_servers)]
               + [('worker', i, list(command)) for i in range(num_workers)])
    local = [Role(kind if kind == 'scheduler' else '%s %d' % (kind, index), kind, list(cmd),
                  role_env(kind, index, num_workers, num_servers, port, env))
             for kind, index, cmd in planned]
    if launcher == 'local':
        return LaunchPlan(tuple(local), port, '127.0.0.1')
    base = dict(os.environ if env is None else env)
    ssh_options = list(ssh_options)
    try:
        ssh_options += shlex.split(base.get(SSH_OPTIONS_ENV, ''))
    except ValueError as error:
        raise BadInput('%s: %s' % (SSH_OPTIONS_ENV, error)) from None
    root_uri = host_ip or hosts[0][0]
    cwd = os.getcwd() if cwd is None else cwd
    guard = [python, '-c', guard_source(), '%g' % (grace / 2)]  # stops the role with its ssh
    roles = []
    for role, (host, ssh_port) in zip(local, place(hosts, num_servers, num_workers)):
        remote_env = _remote_env(role.env, base, root_uri, host, forward)
        remote = guard + role.argv
        roles.append(Role(role.name, role.kind,
                          ssh_command(host, ssh_port, cwd, remote_env, remote, ssh_options),
                          base, host, remote_env))
    return LaunchPlan(tuple(roles), port, root_uri)


def _check(command, num_workers, num_servers, launcher, hosts, host_ip, forward):
    if launcher not in LAUNCHERS:
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


def place(hosts, num_servers, num_workers):
    """The host of each role in starting order: the scheduler on the first host, then the
    servers and the workers round-robin (server i and worker i on host i mod H)."""
    return ([hosts[0]] + [hosts[i % len(hosts)] for i in range(num_servers)]
            + [hosts[i % len(hosts)] for i in range(num_workers)])


def ssh_command(host, port, cwd, environ, command, ssh_options):
    """The local ssh argv that runs ``command`` with ``environ`` on ``host``, in ``cwd``."""
    remote = 'cd %s && exec env %s %s' % (
        shlex.quote(cwd),
        ' '.join(shlex.quote('%s=%s' % item) for item in sorted(environ.items())),
        ' '.join(shlex.quote(arg) for arg in command))
    return (['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new',
             '-o', 'LogLevel=ERROR'] + (['-p', str(port)] if port else [])
            + list(ssh_options) + [host, remote])


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


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
