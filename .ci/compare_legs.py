"""The numbers of the end-to-end run must not depend on the Python (or the NumPy it gets):
compare the records that tests/test_compat.py's python_leg run wrote on each Python."""
import json
import sys

import numpy as np


def main(paths):
    legs = [json.load(open(path)) for path in paths]
    if len(legs) < 2:
        print('compare_legs: %d record(s), nothing to compare' % len(legs))
        return 0
    first, failed = legs[0], False
    for leg in legs:
        print('Python %s, NumPy %s, onnxruntime %s: %s' % (
            leg['python'], leg['numpy'], leg['onnxruntime'],
            ', '.join('epoch %d val_acc %.4f train_loss %.6f' % (r['epoch'], r['val_acc'],
                                                                  r['train_loss'])
                      for r in leg['records'])))
    for leg in legs[1:]:
        if leg['records'] != first['records']:
            print('error: the metrics of Python %s differ from those of Python %s'
                  % (leg['python'], first['python']))
            failed = True
        outputs, reference = np.array(leg['exported_outputs']), np.array(
            first['exported_outputs'])
        if not np.array_equal(outputs, reference):
            print('error: the exported network of Python %s gives other outputs than that of '
                  'Python %s (largest difference %g)' % (leg['python'], first['python'],
                                                         np.abs(outputs - reference).max()))
            failed = True
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
