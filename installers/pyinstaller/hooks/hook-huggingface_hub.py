# huggingface_hub's top-level names are lazy (resolved by __getattr__ through importlib) and it reads its own
# version from metadata; without this, `from huggingface_hub import hf_hub_download` fails only when frozen.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("huggingface_hub", filter=lambda name: ".commands" not in name and "cli" not in name)
datas = copy_metadata("huggingface_hub")
