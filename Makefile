# pretext: two commands do everything on a fresh machine.
#   make demo   set up what is missing, then run the main job on the bundled data
#   make test   set up what is missing, then run the whole test suite
# Set-up is idempotent: Debian packages are installed only when missing, and PyTorch lives in a
# versioned environment outside the clone (~/.cache/pretext/torch-VERSION) shared by every clone.

TORCH_VERSION := 2.11.0
CACHE         := $(HOME)/.cache/pretext
VENV          := $(CACHE)/torch-$(TORCH_VERSION)
PY            := $(VENV)/bin/python
APT_PACKAGES  := libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
                 libavfilter-dev libavdevice-dev clang libclang-dev pkg-config ffmpeg
BIN           := target/release/pretext
DEMO_OUT      ?= demo-out

.PHONY: setup demo test bench build clean-demo apt torch cargo-config

setup: apt torch cargo-config

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages: $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

torch:
	@if ! $(PY) -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$(TORCH_VERSION)' else 1)" 2>/dev/null; then \
	  echo "setup: creating $(VENV) with torch==$(TORCH_VERSION) (about 4.6 GB, once per machine)"; \
	  mkdir -p $(CACHE) && python3 -m venv $(VENV) && \
	  $(VENV)/bin/pip install -q torch==$(TORCH_VERSION) numpy safetensors; \
	fi

# Cargo reads this file, so a plain `cargo build` / `cargo test` works after `make setup`.
# torch-sys is pointed at the pip package's libtorch (LIBTORCH = site-packages/torch): the same
# files LIBTORCH_USE_PYTORCH=1 would find, without needing the venv on PATH.
cargo-config: torch
	@mkdir -p .cargo; \
	torch=$$($(PY) -c "import torch, os; print(os.path.dirname(torch.__file__))"); \
	abi=$$($(PY) -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"); \
	want="[env]\nLIBTORCH = \"$$torch\"\nLIBTORCH_CXX11_ABI = \"$$abi\"\nPYTHON_SYS_EXECUTABLE = \"$(PY)\"\n"; \
	if [ "$$(cat .cargo/config.toml 2>/dev/null)" != "$$(printf "$$want")" ]; then printf "$$want" > .cargo/config.toml; fi

build: setup
	cargo build --release --locked

demo: build
	$(BIN) probe samples/
	@mkdir -p $(DEMO_OUT)
	$(BIN) frames samples/$$(ls samples | grep -m1 '\.mp4$$') --at 0.5,1.5 --size 224x224 --out $(DEMO_OUT)/frames
	@echo "demo: frames written under $(DEMO_OUT)/frames"

test: setup
	cargo test --release --locked --no-fail-fast

bench: build
	$(BIN) bench decode samples/
