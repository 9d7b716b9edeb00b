# segment_anything builds its models through a registry of builder functions (sam_model_registry); the modeling
# submodules are imported inside them, so collect them all ("No module named segment_anything.modeling...").
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("segment_anything")
datas = copy_metadata("segment-anything")
