"""Benchmarks behind `salescast bench`: forecast accuracy, serving cost per layer, training cost."""
