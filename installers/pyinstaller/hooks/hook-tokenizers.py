# transformers checks `importlib.metadata.version("tokenizers")` before using the fast tokenizers; without the
# metadata the frozen app falls back or fails with PackageNotFoundError.
from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("tokenizers")
