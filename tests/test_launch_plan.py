"""The launcher's plan (``atac_gluon.launch.plan``): roles, their environments, host placement,
the ssh commands and the argument checks, worked out without starting any process."""
import shlex

import pytest

from atac_gluon.errors import BadInput
from atac_gluon.launch import build_plan, read_hostfile
from atac_gluon.launch.plan import SERVER_PROGRAM, guard_source

PY = '/opt/py/bin/python3'


def _plan(**kwargs):
    args = dict(command=['python', 'train.py', '--lr', '0.1'], num_workers=2, num_servers=1,
                env={'HOME': '/root', 'OMP_NUM_THREADS': '4'}, port=9000, python=PY,
                cwd='/data/my run')
    args.update(kwargs)
    return build_plan(**args)


def test_local_roles_in_starting_order():
    plan = _plan(num_workers=3, num_servers=2)
    assert [role.name for role in plan.roles] == [
        'scheduler', 'server 0', 'server 1', 'worker 0', 'worker 1', 'worker 2']
    assert [role.kind for role in plan.roles] == ['scheduler'] + ['server'] * 2 + ['worker'] * 3
    assert [role.name for role in plan.workers] == ['worker 0', 'worker 1', 'worker 2']
    assert (plan.port, plan.root_uri) == (9000, '127.0.0.1')
    assert all(not role.remote and role.host is None and role.remote_env is None
               for role in plan.roles)
    for role in plan.roles[:3]:
        assert role.argv == [PY, '-c', SERVER_PROGRAM]
    for role in plan.workers:
        assert role.argv == ['python', 'train.py', '--lr', '0.1']


def test_local_environments():
    plan = _plan(num_workers=2, num_servers=2,
                 env={'HOME': '/root', 'ATAC_WORKER_RANK': '7', 'PYTHONUNBUFFERED': '0'})
    common = {'DMLC_PS_ROOT_URI': '127.0.0.1', 'DMLC_PS_ROOT_PORT': '9000',
              'DMLC_NUM_WORKER': '2', 'DMLC_NUM_SERVER': '2', 'DMLC_INTERFACE': 'lo',
              'DMLC_JOB_CLUSTER': 'local', 'HOME': '/root', 'PYTHONUNBUFFERED': '0'}
    envs = [role.env for role in plan.roles]
    assert envs[0] == dict(common, DMLC_ROLE='scheduler', DMLC_TASK_ID='0', OMP_NUM_THREADS='1')
    assert envs[2] == dict(common, DMLC_ROLE='server', DMLC_TASK_ID='1', OMP_NUM_THREADS='1')
    assert envs[4] == dict(common, DMLC_ROLE='worker', DMLC_TASK_ID='1', ATAC_WORKER_RANK='1')
    # the scheduler and servers keep a thread count set here; unbuffered output by default
    plan = _plan()
    assert [role.env['OMP_NUM_THREADS'] for role in plan.roles] == ['4'] * 4
    assert all(role.env['PYTHONUNBUFFERED'] == '1' for role in plan.roles)


def test_ssh_placement_round_robin():
    hosts = [('a', 2201), ('b', None), ('c', 2203)]
    plan = _plan(launcher='ssh', hosts=hosts, num_workers=4, num_servers=2)
    assert [(role.name, role.host) for role in plan.roles] == [
        ('scheduler', 'a'), ('server 0', 'a'), ('server 1', 'b'),
        ('worker 0', 'a'), ('worker 1', 'b'), ('worker 2', 'c'), ('worker 3', 'a')]
    assert plan.root_uri == 'a' and all(role.remote for role in plan.roles)
    ports = [role.argv[role.argv.index('-p') + 1] if '-p' in role.argv else None
             for role in plan.roles]
    assert ports == ['2201', '2201', None, '2201', None, '2203', '2201']
    # ssh runs with this machine's environment; the role's goes into the remote command
    assert all(role.env == {'HOME': '/root', 'OMP_NUM_THREADS': '4'} for role in plan.roles)


def test_ssh_command_runs_the_role_under_the_guard():
    plan = _plan(launcher='ssh', hosts=[('node1', 2222)], ssh_options=['-o', 'A=1'],
                 env={'ATAC_SSH_OPTIONS': '-i "/keys/my key"'}, grace=5.0)
    worker = plan.workers[1]
    assert worker.argv[:-2] == ['ssh', '-o', 'BatchMode=yes', '-o',
                                'StrictHostKeyChecking=accept-new', '-o', 'LogLevel=ERROR',
                                '-p', '2222', '-o', 'A=1', '-i', '/keys/my key']
    assert worker.argv[-2] == 'node1'
    remote = shlex.split(worker.argv[-1])
    assert remote[:5] == ['cd', '/data/my run', '&&', 'exec', 'env']
    variables = remote[5:5 + len(worker.remote_env)]
    assert variables == ['%s=%s' % item for item in sorted(worker.remote_env.items())]
    assert remote[5 + len(worker.remote_env):] == [
        PY, '-c', guard_source(), '2.5', 'python', 'train.py', '--lr', '0.1']
    server = shlex.split(plan.roles[1].argv[-1])
    assert server[-7:-4] == [PY, '-c', guard_source()]
    assert server[-4:] == ['2.5', PY, '-c', SERVER_PROGRAM]


def test_ssh_remote_environment():
    env = {'HOME': '/root', 'DMLC_X': 'd', 'PS_VERBOSE': '1', 'MXNET_A': 'm', 'OMP_B': 'o',
           'KMP_C': 'k', 'ATAC_D': 'a', 'ATAC_SSH_OPTIONS': '-q', 'OTHER': 'x', 'FOO': 'f'}
    plan = _plan(launcher='ssh', hosts=[('10.0.0.2', None), ('node', None)], env=env,
                 forward=['FOO', 'BAR=1 2', 'MISSING'])
    worker0, worker1 = (role.remote_env for role in plan.workers)
    assert worker0 == {
        'DMLC_X': 'd', 'PS_VERBOSE': '1', 'MXNET_A': 'm', 'OMP_B': 'o', 'KMP_C': 'k',
        'ATAC_D': 'a', 'FOO': 'f', 'BAR': '1 2', 'PYTHONUNBUFFERED': '1',
        'DMLC_ROLE': 'worker', 'DMLC_TASK_ID': '0', 'ATAC_WORKER_RANK': '0',
        'DMLC_PS_ROOT_URI': '10.0.0.2', 'DMLC_PS_ROOT_PORT': '9000', 'DMLC_NUM_WORKER': '2',
        'DMLC_NUM_SERVER': '1', 'DMLC_JOB_CLUSTER': 'ssh', 'DMLC_NODE_HOST': '10.0.0.2'}
    assert 'DMLC_NODE_HOST' not in worker1  # a host name: ps-lite finds its own address
    assert worker1['ATAC_WORKER_RANK'] == '1' and 'DMLC_INTERFACE' not in worker1
    assert plan.roles[0].remote_env['OMP_NUM_THREADS'] == '1'
    # --host-ip is the scheduler's address; DMLC_INTERFACE set here goes along
    plan = _plan(launcher='ssh', hosts=[('10.0.0.2', None)], host_ip='192.168.1.1',
                 env={'DMLC_INTERFACE': 'eth1'})
    assert plan.root_uri == '192.168.1.1'
    assert all(role.remote_env['DMLC_PS_ROOT_URI'] == '192.168.1.1'
               and role.remote_env['DMLC_INTERFACE'] == 'eth1'
               and 'DMLC_NODE_HOST' not in role.remote_env for role in plan.roles)


@pytest.mark.parametrize('kwargs, says', [
    (dict(num_workers=0), '-n 0: need at least 1 worker'),
    (dict(num_servers=-1), '-s -1: need at least 1 server'),
    (dict(command=[]), 'no COMMAND: give the worker command after --'),
    (dict(launcher='mpi'), '--launcher mpi: unknown launcher (local or ssh)'),
    (dict(launcher='ssh'), '--launcher ssh needs -H HOSTFILE'),
    (dict(hosts=[('a', None)]), '-H, --host-ip and -e are for --launcher ssh only'),
    (dict(forward=['A']), '-H, --host-ip and -e are for --launcher ssh only'),
    (dict(launcher='ssh', hosts=[('a', None)], forward=['1A']), '-e 1A: not NAME or NAME=VALUE'),
    (dict(launcher='ssh', hosts=[('a', None)], forward=['=x']), '-e =x: not NAME or NAME=VALUE'),
    (dict(launcher='ssh', hosts=[('a', None)], env={'ATAC_SSH_OPTIONS': '-i "k'}),
     'ATAC_SSH_OPTIONS: No closing quotation'),
])
def test_bad_arguments(kwargs, says):
    with pytest.raises(BadInput) as caught:
        _plan(**kwargs)
    assert str(caught.value) == says


def test_hostfile(tmp_path):
    path = tmp_path / 'hosts'
    path.write_text('# cluster\nalpha\n\n  beta:2200  # second\n10.0.0.3\n')
    assert read_hostfile(str(path)) == [('alpha', None), ('beta', 2200), ('10.0.0.3', None)]
    assert read_hostfile(str(path), 22) == [('alpha', 22), ('beta', 2200), ('10.0.0.3', 22)]


def test_guard_source_is_the_guard_module():
    import atac_gluon.launch.guard as guard
    with open(guard.__file__) as f:
        assert guard_source() == f.read()
    compile(guard_source(), 'guard', 'exec')
    assert 'import atac_gluon' not in guard_source() and 'from .' not in guard_source()
