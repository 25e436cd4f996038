"""Files: model persistence (skops), ONNX export and atomic writes."""
