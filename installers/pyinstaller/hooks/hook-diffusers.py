# diffusers exposes its pipelines and models through a lazy module (_LazyModule resolves names with
# importlib at first attribute access) and checks dependency versions through package metadata, so the frozen
# app fails with "module diffusers has no attribute StableDiffusionPipeline" / PackageNotFoundError without this.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules(
    "diffusers",
    filter=lambda name: not any(part in name for part in (".commands", "flax", "onnx", ".tests", "experimental")),
)
datas = collect_data_files("diffusers") + copy_metadata("diffusers")
module_collection_mode = "pyz+py"  # diffusers reads source (inspect) for some model classes
