"""Micro-batching: concurrent requests share one ONNX step or one FAISS search, off the loop."""
