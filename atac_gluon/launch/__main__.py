"""``python -m atac_gluon.launch``: see :mod:`atac_gluon.launch`."""
from .command import entry

if __name__ == '__main__':
    entry()
