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

.PHONY: setup demo test test-data bench build clean-demo apt torch cargo-config

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

# The main job: probe the bundled samples, make a synthetic world where sound sources can be
# scored (big objects, one of them sounding, some clips with the sound off-screen or silent),
# train the localisation recipe (`--task localize`, no other flag) for a few minutes on the CPU,
# score it on held-out files next to the centre prior and an untrained model (the map smoothing
# is chosen on the validation files and kept with the checkpoint), and draw heatmaps on the test
# clips. About 8 minutes on 2 cores after set-up.
DEMO_TIME  ?= 5m
DEMO_WORLD := --clips 320 --seconds 4 --objects 2-3 --max-sounding 1 --offscreen 0.15 \
              --silence 0.1 --object-scale 3 --split train=0.75,val=0.125,test=0.125 --seed 1
demo: build
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	$(BIN) probe samples/
	$(BIN) frames samples/clip_0000.mp4 --at 0.5,1.5 --out $(DEMO_OUT)/frames
	$(BIN) synth --out $(DEMO_OUT)/world $(DEMO_WORLD)
	$(BIN) train --task localize --data $(DEMO_OUT)/world --out $(DEMO_OUT)/loc --max-time $(DEMO_TIME)
	$(BIN) eval localize --checkpoint $(DEMO_OUT)/loc/checkpoints/best.safetensors \
	    --data $(DEMO_OUT)/world --annotations $(DEMO_OUT)/world/annotations.jsonl
	$(BIN) localize --checkpoint $(DEMO_OUT)/loc/checkpoints/best.safetensors --out $(DEMO_OUT)/localize \
	    $$(sed -n 's|^{"file":"\([^"]*\)","split":"test".*|$(DEMO_OUT)/world/\1|p' $(DEMO_OUT)/world/annotations.jsonl | head -8)
	@echo
	@echo "demo: done. Look at:"
	@echo "  $(DEMO_OUT)/localize/contact_sheet.png   heat on the first frame of 8 held-out clips (the"
	@echo "                                          sounding object's box is in world/annotations.jsonl)"
	@echo "  $(DEMO_OUT)/localize/<clip>.mp4          the heat following the sounding object, with its sound"
	@echo "  $(DEMO_OUT)/loc/curves.png               loss and validation curves; metrics.jsonl, config.json"
	@echo "  the table above                          cIoU@0.5 / AUC on held-out clips: centre prior,"
	@echo "                                          untrained model, trained model"
	@echo "  $(DEMO_OUT)/frames/, $(DEMO_OUT)/world/     decoded frames; the synthetic world and its README.md"

# The whole suite, then the data side alone (media, features, pipeline, tasks' samplers and
# assemblers, synth) built without libtorch, so that build cannot rot.
test: setup
	cargo test --release --locked --no-fail-fast
	cargo test --release --locked --no-fail-fast --no-default-features

# The data side alone: no libtorch needed (seconds once built).
test-data: apt
	cargo test --release --locked --no-default-features

bench: build
	$(BIN) bench decode samples/
