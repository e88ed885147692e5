from setuptools import find_packages, setup

setup(
    name='atac-gluon',
    version='0.1.0',
    description='Attention as Activation (ATAC) for MXNet/Gluon: ChaATAC, ATAC ResNets, '
                'training scripts and export',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=['tests', 'tests.*']),
    # the paper's numbers and the official ImageNet log, read by the reproduction reports
    package_data={'atac_gluon.reference': ['paper-results.md', 'official-imagenet-log.csv'],
                  # compiled on first use (atac_gluon.ops)
                  'atac_gluon.ops': ['atac_int8_gate.cc', 'atac_gate.cc']},
    # argparse.BooleanOptionalAction (3.9); tested on 3.11
    python_requires='>=3.9',
    # Versions that install and import together on Python 3.11: numpy >= 1.24 breaks
    # `import mxnet` (np.bool), and newer opencv-python needs numpy 2.
    install_requires=[
        'mxnet==1.9.1',
        'numpy>=1.21,<1.24',
        'gluoncv==0.10.5.post0',
        'opencv-python>=4.5,<4.11',
        'matplotlib>=3.5,<3.10',
        'pandas<2.3',
        'scipy<1.12',
        'pillow<11',
        'scikit-learn>=1.2,<1.8',
        'tqdm>=4.60',
    ],
    entry_points={'console_scripts': [
        'atac-gluon-summary = atac_gluon.__main__:entry',
        'atac-gluon-export = atac_gluon.export:entry',
        'atac-gluon-predict = atac_gluon.predict:entry',
        'atac-gluon-launch = atac_gluon.launch:entry',
        'atac-gluon-experiments = atac_gluon.experiments.__main__:entry',
        'atac-gluon-visualize = atac_gluon.visualize:entry',
    ]},
    extras_require={
        'test': ['pytest>=7,<10'],
        # MXNet's ONNX exporter works with onnx 1.14 / protobuf 3; onnxruntime 1.18.1 is the
        # release whose declared numpy range (>=1.21.6,<2) admits MXNet's numpy < 1.24
        # (1.15.0-1.18.0 declare numpy >= 1.24.2).
        'onnx': ['onnx==1.14.1', 'protobuf>=3.20.2,<4', 'onnxruntime==1.18.1'],
    },
)
