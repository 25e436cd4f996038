"""The models a page serves, and what each answers for one image."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ServedModel", "load_served_models", "predict_image"]


@dataclass
class ServedModel:
    """A fitted model under a name, with the image layout it takes.

    Attributes
    ----------
    name : str
        Shown on the page and in the API's ``"model"`` field.
    model : estimator
        Fitted, with ``predict_proba`` and ``classes_``.
    layout : Layout
        Its input layout (784 features: MNIST's 28x28; 64: scikit-learn's 8x8 digits).
    info : dict
        What the page shows about it (test accuracy, dataset), from its file's metadata.
    """

    name: str
    model: Any
    layout: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from ..images.reading import model_layout

        if not hasattr(self.model, "predict_proba"):
            raise TypeError(f"model {self.name!r} has no predict_proba: the page shows "
                            "each digit's probabilities")
        if self.layout is None:
            self.layout = model_layout(self.model)

    def describe(self) -> dict[str, Any]:
        """The model as ``GET /api/models`` lists it."""
        return {"name": self.name, "classes": [_label(c) for c in self.model.classes_],
                "input": f"{self.layout.height}x{self.layout.width}", **self.info}


def _label(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name} ({k})", k + 1
    taken.add(candidate)
    return candidate


def load_served_models(models: Any, *, trust_pickle: bool = False) -> list[ServedModel]:
    """The models to serve from what a user names.

    Parameters
    ----------
    models : None, str, path, estimator, sequence or mapping of them
        Model files (``.skops``; pickle-based ones only with ``trust_pickle``), names of
        pretrained models (``"mnist-cnn"``), fitted estimators, or a ``{name: model}``
        mapping. ``None`` or an empty list: the pretrained MLP and CNN.
    trust_pickle : bool, default=False
        Load pickle-based model files (which run code when loaded).

    Returns
    -------
    list of ServedModel

    Raises
    ------
    ValueError
        A file that cannot be loaded (the persistence module's errors), an unknown name.
    FileNotFoundError
        A file that does not exist.
    """
    from ..io.pretrained import pretrained_names

    if models is None or (isinstance(models, Sequence) and not isinstance(models, str)
                          and len(models) == 0):
        models = pretrained_names()
    if isinstance(models, Mapping):
        items = list(models.items())
    elif isinstance(models, str | Path) or not isinstance(models, Sequence):
        items = [(None, models)]
    else:
        items = [(None, m) for m in models]
    taken: set[str] = set()
    served = []
    for name, spec in items:
        model, default_name, info = _resolve(spec, trust_pickle)
        served.append(ServedModel(_unique(str(name or default_name), taken), model,
                                  info=info))
    return served


def _resolve(spec: Any, trust_pickle: bool) -> tuple[Any, str, dict[str, Any]]:
    from ..io.persistence import load_model
    from ..io.pretrained import load_pretrained, pretrained_names

    if not isinstance(spec, str | Path):
        return spec, type(spec).__name__, {}
    path = Path(spec)
    if not path.exists() and str(spec) in pretrained_names():
        model, metadata = load_pretrained(str(spec), return_metadata=True)
        return model, str(spec), _info(metadata)
    model, metadata = load_model(path, allow_pickle=trust_pickle, return_metadata=True)
    return model, path.stem, _info(metadata)


def _info(metadata: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("dataset", "test_score", "estimator_class")
    return {k: metadata.get(k) for k in keys if metadata.get(k) is not None}


def _png_base64(row: np.ndarray, layout: Any) -> str:
    from ..images.preview import row_png

    return base64.b64encode(row_png(row, layout)).decode("ascii")


def _answer(served: ServedModel, rows: np.ndarray) -> list[dict[str, Any]]:
    """Each row's label, probabilities and input PNG from one model."""
    probabilities = np.asarray(served.model.predict_proba(rows), dtype=np.float64)
    classes = [_label(c) for c in served.model.classes_]
    answers = []
    for row, p in zip(rows, probabilities, strict=True):
        answers.append({"label": classes[int(np.argmax(p))],
                        "probabilities": {str(c): float(v) for c, v in
                                          zip(classes, p, strict=True)},
                        "input_png": _png_base64(row, served.layout)})
    return answers


def predict_image(decoded: Any, served: Sequence[ServedModel], *,
                  number: bool = False) -> list[dict[str, Any]]:
    """Every model's answer for one decoded image.

    Parameters
    ----------
    decoded : Decoded
        The image (:func:`sknn_mnist.images.decode.decode`).
    served : list of ServedModel
    number : bool, default=False
        Read the image as a number of several digits: each answer's ``label`` is then the
        string of digits, and ``digits`` holds one answer per digit.

    Returns
    -------
    list of dict
        One ``{"model", "label", "probabilities", "input_png"}`` per model (with
        ``number``: ``{"model", "label", "digits": [...], "input_png"}``, the input PNG
        that of the first digit).

    Raises
    ------
    ImageError
        No ink in the image (the images' errors).
    """
    from ..images.ink import contrast, ink_map, ink_signal
    from ..images.normalize import normalize
    from ..images.segment import digit_boxes

    rows_by_layout: dict[Any, np.ndarray] = {}
    if number:
        boxes = digit_boxes(contrast(ink_signal(decoded), decoded.name), decoded.name)
    else:
        ink = ink_map(decoded)
    answers = []
    for model in served:
        if model.layout not in rows_by_layout:
            if number:
                rows = np.stack([normalize(b.ink, model.layout, decoded.name)
                                 for b in boxes])
            else:
                rows = normalize(ink, model.layout, decoded.name)[None, :]
            rows_by_layout[model.layout] = rows
        digits = _answer(model, rows_by_layout[model.layout])
        if number:
            answers.append({"model": model.name,
                            "label": "".join(str(d["label"]) for d in digits),
                            "digits": digits, "input_png": digits[0]["input_png"]})
        else:
            answers.append({"model": model.name, **digits[0]})
    return answers
