import json
import os
import sys

import mxnet as mx
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # test helpers (gradcheck) import by name
LAYOUT = os.path.join(HERE, 'data', 'official-checkpoint-layout.json')


@pytest.fixture(scope='session')
def official_layout():
    with open(LAYOUT) as f:
        return json.load(f)


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(7)
    np.random.seed(7)
