"""Training: sales CSV → windows → CNN-LSTM → TorchScript, metrics and MLflow run."""
