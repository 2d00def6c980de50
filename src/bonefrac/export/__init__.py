"""Export to ONNX with a parity check against the .pt model."""
