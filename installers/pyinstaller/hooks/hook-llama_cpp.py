# llama_cpp loads libllama/libggml* with ctypes from llama_cpp/lib at import time; PyInstaller cannot see
# ctypes loads, so without this the frozen app fails with "Shared library with base name 'llama' not found".
from PyInstaller.utils.hooks import collect_dynamic_libs, copy_metadata

binaries = collect_dynamic_libs("llama_cpp")
datas = copy_metadata("llama-cpp-python")
hiddenimports = ["llama_cpp.llama_chat_format", "jinja2.sandbox"]
