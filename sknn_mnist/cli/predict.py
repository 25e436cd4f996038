"""``sknn-mnist predict``: the digit in each image (or row of pixels), with its probability.

``sknn-mnist predict MODEL FILE_OR_FOLDER...``: ``MODEL`` is a model file or a pretrained
model's name (``mnist-mlp``, ``mnist-cnn``); each input is an image (PNG, JPEG, BMP, GIF,
TIFF, WebP), a folder of images, or pixel rows (``.npy``, ``.csv``). One line per image or
row: its name, the label and its probability (``--top-k`` the k most likely,
``--format csv|json``). ``--number`` reads each image as a number of several digits;
``--save-inputs DIR`` writes what the model saw (each normalised image and a contact
sheet). A model of 8x8 digits gets 8x8 inputs.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import (
    CLIError,
    add_quiet,
    add_trust_pickle,
    check_model_path,
    check_output_dir,
    positive_int,
)

HELP = "predict the digits in images (or pixel rows)"
DESCRIPTION = ("Print one line per image or row of pixels: its name, the predicted label "
               "and its probability. MODEL is a model file or a pretrained model "
               "(mnist-mlp, mnist-cnn).")

_ROW_SUFFIXES = (".npy", ".csv")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist predict``."""
    p.add_argument("model_file", metavar="MODEL",
                   help="a file saved by train/compare, or a pretrained model: mnist-mlp, "
                        "mnist-cnn")
    p.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER",
                   help="images (PNG, JPEG, BMP, GIF, TIFF, WebP), folders of images, or "
                        "pixel rows: .npy (shape (n_rows, n_pixels) or (n_rows, h, w)) or "
                        ".csv (one row of n_pixels numbers per line, optional header)")
    p.add_argument("--top-k", type=positive_int, default=1, metavar="K",
                   help="print the K most likely labels with their probabilities (default 1)")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text",
                   help="output format (default: text, one aligned line per input)")
    p.add_argument("--number", action="store_true",
                   help="read each image as a number of several digits (cut left to right)")
    p.add_argument("--save-inputs", metavar="DIR",
                   help="write what the model saw into DIR: each normalised input as a PNG, "
                        "and contact-sheet.png")
    add_trust_pickle(p)
    add_quiet(p)


@dataclass
class _Answer:
    """One printed line: an image, a row or a number."""

    name: str
    top: list[tuple[Any, float | None]]
    rows: Any  # the normalised input(s) the model saw, shape (n, n_pixels)
    digits: list[list[tuple[Any, float | None]]] = field(default_factory=list)


def _is_rows_file(path: Path) -> bool:
    return path.suffix.lower() in _ROW_SUFFIXES


def _check_inputs(args: argparse.Namespace) -> list[Path]:
    from ..images.decode import IMAGE_SUFFIXES

    paths = [Path(f) for f in args.files]
    for path in paths:
        if not path.exists():
            raise CLIError(f"input file not found: {path}")
        if path.is_file() and not _is_rows_file(path) and (
                path.suffix.lower() not in IMAGE_SUFFIXES):
            raise CLIError(f"{path}: unsupported file type {path.suffix!r}; give images "
                           "(.png .jpg .bmp .gif .tif .webp), folders of them, or pixel "
                           "rows (.npy, .csv)")
        if args.number and _is_rows_file(path):
            raise CLIError(f"--number reads images of written numbers; {path} holds pixel "
                           "rows")
    return paths


def _top(model: Any, rows: Any, k: int) -> list[list[tuple[Any, float | None]]]:
    """The k most likely labels of each row, with their probabilities (None for a model
    without ``predict_proba``)."""
    import warnings

    import numpy as np

    from ..images.guard import RowsUnlikeTrainingWarning
    from .common import user_errors

    with user_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RowsUnlikeTrainingWarning)
        if not hasattr(model, "predict_proba"):
            labels = model.predict(rows)
        else:
            probabilities = np.asarray(model.predict_proba(rows))
    for w in caught:  # rows that look scaled or inverted: one line, not a stack frame
        if issubclass(w.category, RowsUnlikeTrainingWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not hasattr(model, "predict_proba"):
        return [[(_plain(label), None)] for label in labels]
    classes = np.asarray(model.classes_)
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[(_plain(classes[j]), float(p[j])) for j in row_order]
            for row_order, p in zip(order, probabilities, strict=True)]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _row_answers(path: Path, model: Any, args: argparse.Namespace) -> list[_Answer]:
    from . import runtime

    rows = runtime.read_rows(path)
    expected = runtime.n_features(model)
    if expected is not None and rows.shape[1] != expected:
        raise CLIError(f"{path} has {rows.shape[1]} columns but the model expects "
                       f"{expected} (one row of pixels per image)")
    if not len(rows):
        return []
    tops = _top(model, rows, args.top_k)
    return [_Answer(f"{path}[{i}]", top, rows[i:i + 1]) for i, top in enumerate(tops)]


def _image_answers(path: Path, model: Any, layout: Any,
                   args: argparse.Namespace) -> list[_Answer]:
    from ..images import load_images, split_digits

    if not args.number:
        rows, names = load_images(path, shape=layout, return_names=True)
        return [_Answer(name, top, rows[i:i + 1])
                for i, (name, top) in enumerate(zip(names, _top(model, rows, args.top_k),
                                                    strict=True))]
    from ..images.load import image_names

    answers = []
    for name in image_names(path):
        digits = split_digits(name, shape=layout)
        tops = _top(model, digits, args.top_k)
        text = "".join(str(t[0][0]) for t in tops)
        confidence = None
        if all(t[0][1] is not None for t in tops):
            confidence = float(math.prod(t[0][1] for t in tops))
        answers.append(_Answer(name, [(text, confidence)], digits, digits=tops))
    return answers


def _layout(model: Any, model_name: str) -> Any:
    from ..images import layout_for_features
    from ..images.reading import model_n_features

    expected = model_n_features(model)
    if expected is None:
        return None
    try:
        return layout_for_features(int(expected))
    except ValueError as exc:
        raise CLIError(f"{model_name}: {exc}") from None


def _answers(paths: list[Path], model: Any, args: argparse.Namespace) -> list[_Answer]:
    from ..images.errors import ImageError

    if not all(_is_rows_file(p) for p in paths):
        try:
            import skimage.filters  # noqa: F401 - the image work needs the images extra
        except ImportError as exc:
            raise CLIError("reading images needs the images extra: pip install "
                           f"'sknn_mnist[images]' ({exc})") from None

    layout = None
    answers: list[_Answer] = []
    for path in paths:
        if _is_rows_file(path):
            answers += _row_answers(path, model, args)
            continue
        if layout is None:
            layout = _layout(model, args.model_file)
        try:
            answers += _image_answers(path, model, layout, args)
        except ImageError as exc:
            raise CLIError(str(exc)) from None
        except TypeError as exc:
            raise CLIError(f"{path}: {exc}") from None
    return answers


def _probability(p: float | None) -> str:
    return "-" if p is None else f"{p:.4f}"


def _print_text(answers: list[_Answer]) -> None:
    width = max((len(a.name) for a in answers), default=0)
    for a in answers:
        cells = "  ".join(f"{label} {_probability(p)}" for label, p in a.top)
        print(f"{a.name.ljust(width)}  {cells}")


def _print_csv(answers: list[_Answer], k: int) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    header = ["name", "label", "probability"]
    for i in range(2, k + 1):
        header += [f"label_{i}", f"probability_{i}"]
    writer.writerow(header)
    for a in answers:
        cells = [a.name]
        for label, p in a.top:
            cells += [label, "" if p is None else f"{p:.6f}"]
        writer.writerow(cells)


def _json_answer(a: _Answer) -> dict[str, Any]:
    label, p = a.top[0]
    out: dict[str, Any] = {"name": a.name, "label": label, "probability": p}
    if len(a.top) > 1:
        out["top"] = [{"label": lab, "probability": q} for lab, q in a.top]
    if a.digits:
        out["digits"] = [{"label": t[0][0], "probability": t[0][1],
                          **({"top": [{"label": lab, "probability": q} for lab, q in t]}
                             if len(t) > 1 else {})} for t in a.digits]
    return out


def _save_inputs(answers: list[_Answer], layout: Any, folder: Path) -> None:
    import numpy as np

    from ..images import layout_for_features
    from ..images.preview import contact_sheet, row_image

    folder.mkdir(parents=True, exist_ok=True)
    rows, captions = [], []
    for i, a in enumerate(answers):
        for j, row in enumerate(a.rows):
            row_layout = layout or layout_for_features(len(row))
            stem = Path(a.name.split("[")[0]).stem
            suffix = f"-{j}" if len(a.rows) > 1 else ""
            row_image(row, row_layout, scale=1).save(folder / f"{i:04d}-{stem}{suffix}.png")
            label = a.digits[j][0][0] if a.digits else a.top[0][0]
            rows.append(np.asarray(row))
            captions.append(f"{label} {Path(a.name).name}")
    if rows and len({len(r) for r in rows}) == 1:
        sheet_layout = layout or layout_for_features(len(rows[0]))
        contact_sheet(np.stack(rows), sheet_layout, captions).save(folder / "contact-sheet.png")


def run(args: argparse.Namespace) -> int:
    """Check every input (and the output folder), load the model, then predict."""
    # numpy, Pillow, scikit-learn and torch take seconds to import: `--help` and argument
    # errors (a missing model file too) stay instant.
    check_model_path(args.model_file, pretrained=True)
    from . import runtime

    paths = _check_inputs(args)
    out = check_output_dir(args.save_inputs, what="--save-inputs folder") \
        if args.save_inputs else None
    model, _ = runtime.load_model_or_pretrained(args.model_file,
                                                trust_pickle=args.trust_pickle)
    answers = _answers(paths, model, args)
    if args.format == "json":
        print(json.dumps([_json_answer(a) for a in answers], indent=1))
    elif args.format == "csv":
        _print_csv(answers, args.top_k)
    else:
        _print_text(answers)
    if out is not None:
        try:
            layout = _layout(model, args.model_file)
        except CLIError:
            layout = None
        _save_inputs(answers, layout, out)
        if not args.quiet:
            print(f"saved what the model saw: {out}", file=sys.stderr)
    return 0
