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

.PHONY: demo test test-fast sysdeps venv clean

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

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
