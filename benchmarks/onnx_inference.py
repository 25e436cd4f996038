"""ONNX inference: onnxruntime against our ``predict_proba``, rows/s, batch and single rows.

The model is the default pipeline (``PixelScaler`` -> 784-100-50-10 ``MLPDigitClassifier``)
exported with ``sknn_mnist.export_onnx``; both sides start from the raw uint8 pixels (the
float32 conversion onnxruntime needs is timed with it).

    python benchmarks/onnx_inference.py [--quick]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from _common import interleaved, load_average, load_mnist_arrays, machine_info, parser, timed
from _common import write_result as _write
from sklearn.pipeline import make_pipeline

from sknn_mnist import MLPDigitClassifier
from sknn_mnist.models import PixelScaler
from sknn_mnist.onnx_export import export_onnx


def _single_rows(predict, X: np.ndarray) -> float:
    """Seconds to predict ``X`` one row at a time, as a service answering requests does."""
    def run():
        for i in range(len(X)):
            predict(X[i:i + 1])
    return timed(run)


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    rounds = args.rounds or (2 if args.quick else 7)
    n_single = 100 if args.quick else 1000
    dataset, X, y, X_test, _ = load_mnist_arrays(args, n_train=2000 if args.quick else 20000)
    model = make_pipeline(PixelScaler(), MLPDigitClassifier(max_iter=1, random_state=0,
                                                            device="cpu")).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, Path(tmp) / "model.onnx")
        options = ort.SessionOptions()
        # The same thread count as torch, so that the comparison is of the runtimes.
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def onnx_proba(rows):
        return session.run(["probabilities"], {"input": rows.astype(np.float32)})[0]

    gap = float(np.abs(onnx_proba(X_test) - model.predict_proba(X_test)).max())
    same = bool(np.array_equal(session.run(["label"], {"input": X_test.astype(np.float32)})[0],
                               model.predict(X_test)))
    single = X_test[:n_single]
    batch = interleaved({
        "predict_proba": lambda: timed(lambda: model.predict_proba(X_test)),
        "onnxruntime": lambda: timed(lambda: onnx_proba(X_test)),
    }, rounds, reference="predict_proba")
    one = interleaved({
        "predict_proba": lambda: _single_rows(model.predict_proba, single),
        "onnxruntime": lambda: _single_rows(onnx_proba, single),
    }, rounds, reference="predict_proba")
    table = []
    for mode, timings, n in ((f"batch of {len(X_test)}", batch, len(X_test)),
                             (f"single rows ({n_single} calls)", one, n_single)):
        for name in ("predict_proba", "onnxruntime"):
            table.append({
                "mode": mode, "contender": name,
                "rows/s (median)": n / timings["median_seconds"][name],
                "speed-up over predict_proba": 1 / timings["ratio_to_predict_proba"][name],
            })
    result = {
        "benchmark": "onnx_inference",
        "title": f"ONNX inference: onnxruntime against predict_proba on {dataset} test rows "
                 f"({rounds} interleaved rounds, CPU)",
        "machine": machine_info("cpu") | {"onnxruntime": ort.__version__,
                                          "load_average": load_average()},
        "table": table,
        "max_abs_probability_difference": gap,
        "same_labels": same,
        "notes": [
            "Pipeline: PixelScaler -> MLPDigitClassifier 784-100-50-10 (1 epoch), exported "
            "by sknn_mnist.export_onnx; both sides take the raw uint8 pixels.",
            f"onnxruntime {ort.__version__} with intra_op_num_threads = torch's "
            f"({torch.get_num_threads()}); largest probability difference {gap:.2e}, "
            f"labels {'identical' if same else 'DIFFERENT'}.",
            "'speed-up over predict_proba' = predict_proba time / contender time (median of "
            "per-round ratios).",
            f"Load average when measured: {load_average()} (1, 5, 15 min).",
        ],
        "batch": batch,
        "single": one,
    }
    _write(args, "onnx_inference", result)


if __name__ == "__main__":
    main()
