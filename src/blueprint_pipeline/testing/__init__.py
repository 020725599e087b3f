"""What tests and benchmarks build their inputs from: the scene corpus (`corpus`), never used by
the pipeline's stages themselves."""
