# torchvision >= 0.2x ships its C++ ops as _C_stable.so / image_stable.so and finds them next to its package with
# importlib's FileFinder; the contrib hook still asks for `torchvision._C`, so the frozen app failed with
# "operator torchvision::nms does not exist" (Segment Anything needs nms, and transformers' PreTrainedModel import
# path — hence sentence-transformers — trips over the same error). collect_dynamic_libs' default patterns on Linux
# only match lib*.so, which these names are not: ask for every shared-library name explicitly.
from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("torchvision", search_patterns=["*.so", "*.so.*", "*.dylib", "*.dll", "*.pyd"])
module_collection_mode = "pyz+py"  # torch.jit / _meta_registrations read torchvision's sources
