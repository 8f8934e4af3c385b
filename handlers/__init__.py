"""TorchServe handler: travels inside each .mar; depends on torch and the standard library only."""
