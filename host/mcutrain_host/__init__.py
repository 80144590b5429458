"""The host side of mcutrain: datasets, pre-training, quantization, the CLI and the link."""
