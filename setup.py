from setuptools import find_packages, setup

setup(
    name='atac-gluon',
    version='0.1.0',
    description='Attention as Activation (ATAC) for MXNet/Gluon: ChaATAC, ATAC ResNets, '
                'training scripts and export',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=['tests', 'tests.*']),
    # the paper's numbers, the official ImageNet log and Fashion-MNIST's published results, read
    # by the reproduction reports
    package_data={'atac_gluon.reference': ['paper-results.md', 'official-imagenet-log.csv',
                                            'fashion-mnist-benchmarks.md'],
                  # compiled on first use (atac_gluon.ops)
                  'atac_gluon.ops': ['atac_int8_gate.cc', 'atac_gate.cc']},
    # 3.9: argparse.BooleanOptionalAction. 3.14 and later are untested: refused by pip here, in one
    # line, instead of ending in a source build of an old NumPy
    python_requires='>=3.9,<3.14',
    # One set per Python that installs from wheels and imports together (README, "Pythons and
    # NumPys"); atac_gluon.compat restores what MXNet 1.9.1 and GluonCV 0.10.5 miss on the newer
    # ones. MXNet declares numpy<2, and NumPy 1 has no wheel for 3.13: there pip installs MXNet
    # with --no-deps (the Makefile does; README), hence no requirement on mxnet for 3.13.
    install_requires=[
        'mxnet==1.9.1; python_version < "3.13"',
        'numpy>=1.21,<1.24; python_version < "3.12"',
        'numpy>=1.26,<2; python_version == "3.12"',
        'numpy>=2.1,<2.3; python_version >= "3.13"',
        # MXNet's own requirements besides numpy, for 3.13 where MXNet comes without them
        'requests>=2.20,<3; python_version >= "3.13"',
        'graphviz>=0.8.1,<0.9; python_version >= "3.13"',
        # distutils left the standard library in 3.12; MXNet and GluonCV import it
        'setuptools>=60; python_version >= "3.12"',
        'gluoncv==0.10.5.post0',
        # gluoncv pulls opencv-python; 4.11 and later need numpy 2
        'opencv-python>=4.5,<4.11',
        'matplotlib>=3.5,<3.10',
        'pandas<2.3',
        'scipy<1.12; python_version < "3.13"',
        'scipy>=1.14.1,<1.15; python_version >= "3.13"',
        'pillow<11; python_version < "3.13"',
        'pillow>=11,<12; python_version >= "3.13"',
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
        # (1.15.0-1.18.0 declare numpy >= 1.24.2). onnx 1.14 has no wheel past 3.11, onnxruntime
        # 1.18 none past 3.12, onnx 1.17 none for 3.13: newer releases there (tested, README).
        'onnx': ['onnx==1.14.1; python_version < "3.12"',
                 'protobuf>=3.20.2,<4; python_version < "3.12"',
                 'onnx==1.18.0; python_version >= "3.12"',
                 'onnxruntime==1.18.1; python_version < "3.13"',
                 'onnxruntime>=1.20,<1.21; python_version >= "3.13"'],
    },
)
