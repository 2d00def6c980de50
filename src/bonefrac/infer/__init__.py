"""The CPU inference engine: onnxruntime, letterbox, decode and NMS in numpy. Never imports torch."""
