# Two commands for a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
OUT ?= demo_out
SCENE ?= examples/kitchen.json

# Debian packages for headless MuJoCo rendering through EGL (Mesa llvmpipe); installed only when
# missing. For MUJOCO_GL=osmesa also install libosmesa6.
DEB_PACKAGES := libegl1 libegl-mesa0 libgl1

.PHONY: demo test test-fast sysdeps venv clean test-lerobot test-newest

sysdeps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed-%: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".$(if $(filter core,$*),,[$*])"
	@touch $@

venv: $(VENV)/.installed-test

demo: sysdeps $(VENV)/.installed-core
	$(VENV)/bin/blueprint run $(SCENE) --out $(OUT)

# Runs the whole suite, the slow marker included (CI runs exactly this).
test: sysdeps $(VENV)/.installed-test
	$(PY) -m pytest -m "slow or not slow"

# The fast default suite only.
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest

# Optional, not part of `make test`: the real lerobot (0.6.x on Python 3.12, 0.4.x on Python 3.11, each
# in its own venv beside this project under LEROBOT_CACHE) loads, merges, edits and trains on a dataset
# this project wrote (docs/lerobot.md). Downloads torch: several GB the first time.
LEROBOT_CACHE ?= $(HOME)/.cache/blueprint-lerobot
test-lerobot: sysdeps
	LEROBOT_CACHE=$(LEROBOT_CACHE) bash tests/lerobot_compat/run.sh

# The newest releases the dependency bounds admit, on Python 3.11 and 3.12, in throwaway venvs under
# NEWEST_CACHE: install, then the fast dataset tests (TESTS= for other tests).
NEWEST_CACHE ?= $(HOME)/.cache/blueprint-newest
TESTS ?= tests/test_dataset*.py
test-newest: sysdeps
	@set -e; for py in python3.11 python3.12; do \
	  if ! command -v $$py >/dev/null; then echo "SKIP $$py: not installed"; continue; fi; \
	  v=$(NEWEST_CACHE)/$$py; rm -rf $$v; $$py -m venv $$v; \
	  $$v/bin/pip install -q --upgrade pip; $$v/bin/pip install -q --upgrade -e ".[test]"; \
	  echo "== $$py: $$($$v/bin/python -c 'import av, numpy, pyarrow, mujoco; print("av", av.__version__, "numpy", numpy.__version__, "pyarrow", pyarrow.__version__, "mujoco", mujoco.__version__)')"; \
	  $$v/bin/python -m pytest -q -p no:cacheprovider -m "not slow" $(TESTS); \
	done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
