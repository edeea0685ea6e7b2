"""The graph IR: ONNX import/export, graph passes, lowering to a Workload, and the Program format."""
