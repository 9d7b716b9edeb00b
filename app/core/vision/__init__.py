"""Vision: ask a local vision-language model about images (no Qt; llama_cpp and PIL imported lazily).

- projector.py  tell a projector (mmproj) GGUF from a language model; check that a projector fits a model
- pairing.py    find a model's projector: recorded by its download, or an mmproj-*.gguf beside it
- images.py     open any photo as 8-bit RGB, right way up, downscaled to the projector's input, bounded memory
- chat.py       MTMDChatHandler for a (model, projector) pair; messages with images → OpenAI image_url parts;
                VisionChat: load, reply (streamed), close
"""
