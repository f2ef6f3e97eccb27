# The command index: README and .ci/run call these targets and nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz
BUNDLE_DIR ?= bundles
DEFAULT_BUNDLE := $(BUNDLE_DIR)/demo
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
export NEXTSWIPE_BUNDLE ?= $(DEFAULT_BUNDLE)
# `make serve` on the embedded store keeps the catalogue log (uploads, takedowns) in this file,
# so that they survive a restart; unused with NEXTSWIPE_REDIS_URL, where Redis holds the log.
CATALOGUE_PATH ?= build/catalogue.log
# ... and every applied swipe and new page in this one, which `make learn` follows.
EVENT_LOG_PATH ?= build/events.log
# The learning loop: the learner re-points LIVE at each version it publishes (under
# bundles/versions); serve LIVE to serve what it learns. INTERVAL: seconds between rounds.
LIVE ?= $(BUNDLE_DIR)/live
INTERVAL ?= 60
# Load test (`make loadtest`): a fixed arrival rate for a fixed time; the step search raises the
# rate by STEP every STEP_DURATION seconds until p99 breaks its budget (LOADTEST_P99_MS, 50 ms).
BUNDLE ?= $(DEFAULT_BUNDLE)
RATE ?= 1000
DURATION ?= 60
STEP ?= 250
STEP_DURATION ?= 20
MAX_RATE ?= 10000
RATES ?= 250,500,1000,1500,2000
SOAK_DURATION ?= 600
LOADTEST := $(BIN)/python -m loadtest.run --workers $(WORKERS) --bundle $(BUNDLE)
# Your own data (`make tune`, then `make bundle CONFIG=...`): one log in DATA, cut by the
# config's split, or the split files TRAIN, VALID (tuning) and TEST (the reported table).
# CONFIG: the base config to tune from (none: the defaults), then the tuned one to build.
CONFIG ?=
TUNED ?= build/tuned.toml
BUDGET_MIN ?= 60
TRIALS ?= 0
OUT ?= $(BUNDLE_DIR)/mine
DATA_ARGS = $(if $(TRAIN),--train $(TRAIN) $(if $(VALID),--valid $(VALID)) \
  $(if $(TEST),--test $(TEST)),--data $(DATA))

.PHONY: install packages check test bundle-tiny bundle bundle-microlens bundle-1m tune tune-microlens \
	cold-eval run serve learn health abtest demo clean loadtest loadtest-step loadtest-baseline \
	loadtest-saturation loadtest-rates soak bench-uploads \
	bench-exposure bench-day2

# One virtual environment with every extra; rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[serve,train,loadtest,dev]'
	touch $@

install: $(BIN)/.installed

# The Debian packages: the tests start their own redis-server on a free loopback port, and a
# 3-master cluster joined by redis-cli; the saturation load test drives the service with wrk;
# the demo's page is rendered by headless Chromium. Installed when any is missing.
packages:
	@{ command -v redis-server && command -v redis-cli && command -v wrk && command -v chromium; } >/dev/null 2>&1 || { \
	  echo "installing redis-server, redis-tools, wrk and chromium (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools wrk chromium >/dev/null; }

check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

test: install packages check
	$(BIN)/pytest

# Seconds on CPU: synthetic data, tiny model. What the tests build too.
bundle-tiny: install
	$(BIN)/python -m models.pipeline --config models/configs/tiny.toml --out $(BUNDLE_DIR)/tiny

# The default (demo) bundle: the synthetic short-video log, with watch times and likes.
$(DEFAULT_BUNDLE)/manifest.json: | install
	$(BIN)/python -m models.pipeline --config models/configs/demo.toml --out $(DEFAULT_BUNDLE)

# `make bundle`: the default (demo) bundle; with CONFIG (e.g. the TOML `make tune` wrote), that
# config trained on your data (DATA, or TRAIN/VALID/TEST), evaluated beside the baselines
# with the config's [baselines], exported to OUT.
ifeq ($(CONFIG),)
bundle: $(DEFAULT_BUNDLE)/manifest.json
else
bundle: install
	$(BIN)/python -m models.pipeline --config $(CONFIG) $(DATA_ARGS) --out $(OUT)
endif

# MicroLens-50k end to end: train on train+valid with the chosen configuration,
# evaluate on test beside the baselines, export the bundle with its metrics.
bundle-microlens: install
	$(BIN)/python -m models.pipeline --config models/configs/microlens.toml --data $(DATA) --out $(BUNDLE_DIR)/microlens

# A 1,000,000-item catalogue (one thread, ~20 min): GRU4Rec trained on a generated log of
# 30,000 items, grown to a million with synthetic items drawn around the trained ones; the
# index is the fastest approximate one whose measured recall@100 against exact is >= 0.95.
bundle-1m: install
	OMP_NUM_THREADS=1 $(BIN)/python -m models.pipeline --config models/configs/catalogue1m.toml \
	  --out $(BUNDLE_DIR)/catalogue1m-base
	OMP_NUM_THREADS=1 $(BIN)/python -m models.grow_catalogue --items 1000000 \
	  --checkpoint build/checkpoints/catalogue1m-base.pt --report build/catalogue1m-base-report.json \
	  --out $(BUNDLE_DIR)/catalogue1m

# A time-budgeted search (BUDGET_MIN minutes; at most TRIALS trials, 0: no cap) on the
# validation split of your data, from CONFIG on; writes TUNED (and TUNED's -trials.jsonl).
tune: install
	$(BIN)/python -m models.tune $(if $(CONFIG),--config $(CONFIG)) $(DATA_ARGS) \
	  --budget-min $(BUDGET_MIN) --trials $(TRIALS) --out $(TUNED)

# The same search from models/configs/microlens.toml on MicroLens (never looks at test).
tune-microlens:
	$(MAKE) tune CONFIG=models/configs/microlens.toml TUNED=build/tuned-microlens.toml

# Cold items (issue 9): a seeded 10% of the MicroLens items held out of training, then
# recommended from their titles through the projection (hashing and MiniLM encoders), beside
# random placement, content-kNN and the warm-only model; writes build/cold-eval-report.json.
cold-eval: install
	$(BIN)/python -m models.cold_eval --config models/configs/microlens.toml --data $(DATA) \
	  --encoders hashing minilm

# Build what is missing (venv, default bundle), then serve it on the embedded session store
# (set NEXTSWIPE_REDIS_URL for Redis). HOST, PORT, NEXTSWIPE_BUNDLE change the defaults.
run: install bundle serve

# Serve without building anything.
serve:
	mkdir -p $(dir $(CATALOGUE_PATH))
	NEXTSWIPE_CATALOGUE_PATH=$${NEXTSWIPE_CATALOGUE_PATH-$(CATALOGUE_PATH)} \
	NEXTSWIPE_EVENT_LOG_PATH=$${NEXTSWIPE_EVENT_LOG_PATH-$(EVENT_LOG_PATH)} $(BIN)/uvicorn app.main:create_app --factory --host $(HOST) --port $(PORT) \
	  --workers $(WORKERS) --loop uvloop --http httptools --no-access-log

# The learner (learn/run.py): follows the event log (Redis Streams with NEXTSWIPE_REDIS_URL,
# else EVENT_LOG_PATH), trains a round every INTERVAL seconds from the default bundle's
# checkpoint on, and publishes each version that passes the guard behind LIVE. Start it, then
# `make serve NEXTSWIPE_BUNDLE=bundles/live` (it creates LIVE -> the default bundle first).
learn: install bundle
	$(BIN)/python -m learn.run --link $(LIVE) --base $(DEFAULT_BUNDLE) \
	  --checkpoint build/checkpoints/$(notdir $(DEFAULT_BUNDLE)).pt --event-log $(EVENT_LOG_PATH) \
	  --interval-s $(INTERVAL)

# Session health (health/report.py) of everything in the event log `make serve` writes (or
# NEXTSWIPE_REDIS_URL's streams): a table, build/health/health.json and health.png.
health: install
	NEXTSWIPE_EVENT_LOG_PATH=$${NEXTSWIPE_EVENT_LOG_PATH-$(EVENT_LOG_PATH)} \
	  $(BIN)/python -m health.report --bundle $(BUNDLE) --out build/health

# The simulated A/B (abtest/): every variant served in process, SESSIONS simulated people
# through each; a table, the winner, build/abtest/abtest.json and abtest.png.
SESSIONS ?= 500
abtest: install bundle
	$(BIN)/python -m abtest.run --bundle $(BUNDLE) --sessions $(SESSIONS) --out build/abtest

# The demo (demo/): a scripted person drifts from comedy to home repair / DIY through the real
# service and a popularity feed; build/demo/demo.png and demo.html. Needs the MicroLens bundle.
DEMO_BUNDLE ?= $(BUNDLE_DIR)/microlens
demo: install
	test -f $(DEMO_BUNDLE)/manifest.json || $(MAKE) bundle-microlens
	$(BIN)/python -m demo.run --bundle $(DEMO_BUNDLE) --out build/demo

# Redis, the service and locust on loopback; a table and a PNG per run in build/loadtest.
# Not part of `make test` (tests/loadtest/test_smoke.py runs a 5-second version).
loadtest: install bundle
	$(LOADTEST) --rate $(RATE) --duration $(DURATION)

# The highest rate whose p99 holds the budget.
loadtest-step: install bundle
	$(LOADTEST) --step --rate $(STEP) --step-size $(STEP) --duration $(STEP_DURATION) --max-rate $(MAX_RATE)

# The same step search against nextswipe and a bare FastAPI app, in one run.
loadtest-baseline: install bundle
	$(LOADTEST) --step --baseline --rate $(STEP) --step-size $(STEP) --duration $(STEP_DURATION) --max-rate $(MAX_RATE)

# The highest rate one service core holds: one worker pinned to its core, wrk (a session mix
# in Lua) and Redis on the other, 1 to 128 connections, then the bare app the same way.
loadtest-saturation: install packages bundle
	$(BIN)/python -m loadtest.saturation --bundle $(BUNDLE) --duration $(STEP_DURATION)

# Latency per service core at fixed rates (RATES, open loop), pinned the same way; then the
# bare app at the same rates.
loadtest-rates: install packages bundle
	$(BIN)/python -m loadtest.fixed_rate --bundle $(BUNDLE) --rates $(RATES) --duration $(STEP_DURATION)

# SOAK_DURATION seconds of load, Redis restarted at a third and the model swapped at two thirds;
# fails when an acknowledged swipe was lost or a request failed for another reason than the
# outage. Not part of `make test` (tests/loadtest/test_soak_smoke.py runs a 10-second version).
soak: install bundle
	$(BIN)/python -m loadtest.soak --workers $(WORKERS) --bundle $(BUNDLE) --rate $(RATE) \
	  --duration $(SOAK_DURATION)

# Uploads under load (one worker on CPU 1; Redis and the generator on CPU 0): /swipe and /feed
# p50/p99 quiet, then during 10 POST /items of 1,000 titles, beside a bare FastAPI app.
bench-uploads: install bundle
	$(BIN)/python -m loadtest.catalogue_bench burst --bundle $(BUNDLE) --rate 200 \
	  --titles ../shared/data/microlens50k/MicroLens-50k_titles.csv.gz

# 20 uploads at 500 req/s: seconds until each has 100 impressions; takedowns served after 1 s.
bench-exposure: install bundle
	$(BIN)/python -m loadtest.catalogue_bench exposure --bundle $(BUNDLE) --rate 500 \
	  --titles ../shared/data/microlens50k/MicroLens-50k_titles.csv.gz

# The learning loop on MicroLens (issue 10): day 1 serves, day 2 streams in, the learner
# publishes; frozen, online and batch models on the test users; report in build/day2.
bench-day2: install packages
	$(BIN)/python -m loadtest.day2 --data $(DATA)

clean:
	rm -rf build $(BUNDLE_DIR)
