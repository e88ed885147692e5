import json
import logging
import os
import tempfile

# as the scripts run (training/threads.py), so in-process results match theirs; before mxnet
os.environ.setdefault('MXNET_USE_OPERATOR_TUNING', '0')
# atac_gluon.ops builds its library here, not in the home directory (which may not be writable)
os.environ.setdefault('ATAC_GLUON_OPS_CACHE',
                      os.path.join(tempfile.gettempdir(), 'atac-gluon-test-ops'))

import atac_gluon  # noqa: E402,F401  (its compat hook, before mxnet: atac_gluon.compat)
import mxnet as mx  # noqa: E402
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUT = os.path.join(HERE, 'data', 'official-checkpoint-layout.json')


@pytest.fixture(scope='session')
def official_layout():
    with open(LAYOUT) as f:
        return json.load(f)


@pytest.fixture(autouse=True)
def _fresh_atac_logger():
    """Each test starts with the 'atac' logger as a new process has it: a script run in-process
    (setup_logging) leaves it not propagating (caplog then sees nothing) and writing to a
    stderr capture that pytest closes afterwards."""
    yield
    log = logging.getLogger('atac')
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.propagate = True
    log.setLevel(logging.NOTSET)


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(7)
    np.random.seed(7)


@pytest.fixture(scope='session')
def rec_data(tmp_path_factory):
    """Flags of a tiny RecordIO train/val pair: 20 and 7 images of 3 classes, 36x36."""
    from tests.helpers.imagenet_fakes import write_rec_pair
    root = tmp_path_factory.mktemp('rec')
    train = write_rec_pair(str(root / 'train'), 20, 3, size=36)
    val = write_rec_pair(str(root / 'val'), 7, 3, size=36, seed=1)
    return ['--use-rec', '--rec-train', train[0], '--rec-train-idx', train[1],
            '--rec-val', val[0], '--rec-val-idx', val[1]]
