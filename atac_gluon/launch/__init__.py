"""``python -m atac_gluon.launch``: start a distributed (ps-lite parameter server) MXNet job on this
machine, in place of ``mxnet/tools/launch.py``, which dies on Python 3.9+ and hangs when a worker
fails::

    python -m atac_gluon.launch -n 2 -s 1 -- python my_train.py --kvstore dist_sync ...

It starts one scheduler, ``-s`` servers (both ``python -c "import mxnet"`` (after atac_gluon.compat) with the ps-lite role in
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
and the scheduler run ``python -c "import mxnet"`` (after atac_gluon.compat), and each remote command runs under a small
Python guard that stops it (SIGTERM to its process group, SIGKILL after the grace period) as soon
as its ssh connection closes, so stopping the local ssh stops the remote process too. The remote
environment has only the ps-lite variables, ``ATAC_WORKER_RANK``, ``PYTHONUNBUFFERED``, the
variables here whose names start with ``DMLC_``, ``PS_``, ``MXNET_``, ``OMP_``, ``KMP_`` or
``ATAC_``, and those named by ``-e NAME`` / ``-e NAME=VALUE`` (``PATH`` is the remote login's:
best give COMMAND's program as an absolute path). More ssh arguments (``-i KEY``,
``-o ...``): ``--ssh-option OPTION`` (each becomes ``-o OPTION``) and the ``ATAC_SSH_OPTIONS``
variable (split like a shell would). A role killed by a signal on its host is reported by exit code
(137 = 128 + SIGKILL); 255 is ssh's own failure (connection, authentication).

The package, in the order a launch runs through it: :mod:`.command` (the command line),
:mod:`.plan` (pure: checks the arguments and works out every role's command, environment and
host, before anything starts), :mod:`.supervisor` (starts the roles, copies their output, stops
them all on the first failure or on SIGINT/SIGTERM) and :mod:`.guard` (the remote end of an ssh
role: stops its command when the connection closes).
"""
from .command import entry, main
from .plan import GRACE, LINGER, LaunchPlan, Role, build_plan, free_port, read_hostfile, role_env
from .supervisor import ProcessFailed, launch, supervise

__all__ = ['main', 'entry', 'launch', 'ProcessFailed', 'free_port', 'role_env', 'read_hostfile',
           'build_plan', 'supervise', 'LaunchPlan', 'Role']
