"""Gateway: the public FastAPI /api in front of TorchServe and the training jobs."""
