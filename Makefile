PYTHON ?= python3
# one environment per Python version: `make test PYTHON=python3.12` does not reuse 3.11's
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYVER),)
$(error PYTHON=$(PYTHON) does not run; give an interpreter, e.g. make test PYTHON=python3.12)
endif
VENV := .venv-$(PYVER)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-fast test-python demo install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# MXNet 1.9.1 declares numpy<2, and NumPy 1 has no wheel for Python 3.13: there MXNet is installed
# without its declared requirements (setup.py lists the others for 3.13), the one step that pip
# cannot take on its own (README, "Pythons and NumPys")
MXNET_NO_DEPS := $(shell $(PYTHON) -c 'import sys; print(int(sys.version_info >= (3, 13)))')

$(STAMP): setup.py pyproject.toml Makefile | $(PY)
ifeq ($(MXNET_NO_DEPS),1)
	$(PY) -m pip install --quiet --no-deps mxnet==1.9.1
endif
	$(PY) -m pip install --quiet -e '.[test,onnx]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

# unit tests only (no script runs): a few minutes
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

# what CI runs on each Python besides the default: the unit tests and one end-to-end run
# (digits, killed and resumed, exported, the ONNX file run by onnxruntime)
test-python: $(STAMP)
	$(PY) -m pytest -q -m "not slow or python_leg" tests

# ResNet-20 ATAC (r=2, inner ReLU) on scikit-learn's digits: no download, 45-80 s on 2
# cores. --resume makes a second `make demo` reuse the finished run instead of refusing the dir.
DEMO_DIR := runs/demo-py$(PYVER)
demo: $(STAMP)
	$(PY) train_cifar.py --dataset digits --blocks 3 --act-type ChaATAC --r 2 --useReLU \
		--mode hybrid --num-epochs 8 --batch-size 64 --lr 0.1 --lr-decay-epoch 6 -j 2 \
		--save-dir $(DEMO_DIR) --save-plot-dir $(DEMO_DIR) --resume --export
	@echo "results in $(DEMO_DIR): metrics.jsonl, train.log, ResNet20_b_3_ChaATAC_history.png,"
	@echo "checkpoints and the exported ResNet20_b_3_ChaATAC-symbol.json, -0000.params, .onnx"

clean:
	rm -rf .venv-* *.egg-info .pytest_cache
