"""Deployment: fnn's models as ONNX (``fnn.to_onnx``), for onnxruntime and every ONNX consumer.

Needs ``pip install 'fnn[onnx]'`` (the ``onnx`` package, and skl2onnx for scikit-learn pipelines).
"""
