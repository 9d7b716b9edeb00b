# sentence-transformers instantiates its modules (Transformer, Pooling, Normalize) from class paths stored in
# the model's modules.json, so they are never imported statically: "No module named
# sentence_transformers.models.Pooling" when the embedder loads.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("sentence_transformers", filter=lambda name: ".tests" not in name)
datas = copy_metadata("sentence-transformers")
