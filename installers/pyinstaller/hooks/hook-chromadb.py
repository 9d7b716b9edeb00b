# chromadb picks its API, segment, embedding and telemetry implementations by dotted-path strings in its
# Settings (importlib.import_module at run time), so the static analysis misses them: "No module named
# chromadb.api.rust" / "chromadb.telemetry.product.posthog" when a collection is opened.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = collect_submodules("chromadb", filter=lambda name: ".test" not in name) + [
    "chromadb_rust_bindings",
]
datas = collect_data_files("chromadb") + copy_metadata("chromadb")
