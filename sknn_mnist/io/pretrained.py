"""Pretrained MNIST models shipped with the package: something to try before training.

``sknn_mnist.pretrained("mnist-cnn")`` loads one by name. The files live in the package's
``pretrained/`` folder with ``pretrained.json`` beside them: for each model its file, its
SHA-256, its MNIST test accuracy, the seed and the library versions it was made with.
``scripts/make_pretrained.py`` makes them from the MNIST IDX files. They are ``.skops``
files and load like any other model file (:func:`~sknn_mnist.io.persistence.load_model`):
no pickle, only the package's trusted types; the checksum is checked first.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["INDEX_NAME", "PretrainedModelError", "load_pretrained", "pretrained_info",
           "pretrained_names", "pretrained_path"]

#: The index of the shipped models, beside them.
INDEX_NAME = "pretrained.json"


class PretrainedModelError(ValueError):
    """An unknown pretrained model name, or a shipped file that fails its checksum."""


def _folder() -> Path:
    return Path(str(resources.files("sknn_mnist") / "pretrained"))


def _index() -> dict[str, dict[str, Any]]:
    path = _folder() / INDEX_NAME
    try:
        return json.loads(path.read_text())["models"]
    except (OSError, ValueError, KeyError) as exc:
        raise PretrainedModelError(f"the pretrained models' index {path} is missing or "
                                   f"damaged ({exc}); reinstall sknn_mnist") from None


def pretrained_names() -> list[str]:
    """Names of the shipped models (``["mnist-cnn", "mnist-mlp"]``)."""
    return sorted(_index())


def pretrained_info(name: str) -> dict[str, Any]:
    """What ``pretrained.json`` records about model ``name``: ``file``, ``sha256``,
    ``test_accuracy``, ``model``, ``seed``, ``versions``...

    Raises
    ------
    PretrainedModelError
        Unknown name; the message lists the known ones.
    """
    index = _index()
    if not isinstance(name, str) or name not in index:
        known = ", ".join(sorted(index))
        raise PretrainedModelError(f"no pretrained model named {name!r}; the shipped ones "
                                   f"are: {known}")
    return dict(index[name])


def pretrained_path(name: str) -> Path:
    """The ``.skops`` file of model ``name``, its checksum checked.

    Raises
    ------
    PretrainedModelError
        Unknown name, or the file is missing or differs from the one recorded.
    """
    info = pretrained_info(name)
    path = _folder() / info["file"]
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise PretrainedModelError(f"pretrained model {name!r}: cannot read {path} "
                                   f"({exc.strerror}); reinstall sknn_mnist") from None
    if digest != info["sha256"]:
        raise PretrainedModelError(f"pretrained model {name!r}: {path} differs from the file "
                                   "that was shipped (checksum); reinstall sknn_mnist")
    return path


def load_pretrained(name: str = "mnist-mlp", *, return_metadata: bool = False) -> Any:
    """Load a pretrained MNIST model: a fitted pipeline taking 784-pixel rows (0..255).

    Parameters
    ----------
    name : str, default='mnist-mlp'
        ``"mnist-mlp"`` (the default MLP, 784-100-50-10) or ``"mnist-cnn"`` (the CNN);
        :func:`pretrained_names` lists them, :func:`pretrained_info` says what each scored.
    return_metadata : bool, default=False
        Also return the file's metadata.

    Returns
    -------
    model or (model, metadata)

    Raises
    ------
    PretrainedModelError
        Unknown name, or a damaged installation.

    Examples
    --------
    >>> import sknn_mnist
    >>> from sknn_mnist.images import load_images
    >>> model = sknn_mnist.pretrained("mnist-cnn")  # doctest: +SKIP
    >>> model.predict(load_images(["digit.jpg"]))  # doctest: +SKIP
    array([7])
    """
    from .persistence import load_model

    return load_model(pretrained_path(name), return_metadata=return_metadata)
