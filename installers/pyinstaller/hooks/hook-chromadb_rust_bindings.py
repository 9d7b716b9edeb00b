# The Rust extension module is a compiled .so in its own package; collect it explicitly so the hidden import from
# chromadb.api.rust resolves ("No module named chromadb_rust_bindings").
from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("chromadb_rust_bindings")
