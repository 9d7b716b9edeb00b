"""Models: catalog, registry of installed models, downloads, quantization."""
