"""Serving: .mar archives, the TorchServe process and its management API client."""
