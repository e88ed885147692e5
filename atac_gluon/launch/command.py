"""The command line of the launcher: parse, launch, turn a failed process into its exit code."""
import argparse
import sys

from ..errors import BadInput, run_main
from .plan import read_hostfile
from .supervisor import ProcessFailed, launch

__all__ = ['main', 'entry']


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises BadInput (one ``error:`` line, exit 2) instead of printing usage."""

    def error(self, message):
        raise BadInput(message)


def _parser():
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
    return parser


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
    parser = _parser()
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
