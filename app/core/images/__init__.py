"""Image generation engine (no Qt): diffusers pipelines, safe loading, previews, PNG metadata.

- params.py      what a user asks for (GenerationParams), schedulers, size presets, few-step defaults
- safety.py      safetensors-only by default; pickle files refused (or loaded weights-only when allowed)
- families.py    SD 1.x / 2.x / SDXL detection and the offline config folders handed to diffusers
- policy.py      device and memory plan (CUDA fp16 + offload, MPS fp16 + slicing, CPU fp32)
- loader.py      loads checkpoints once and shares components between txt2img / img2img / inpaint / ControlNet
- previews.py    cheap latent → RGB previews (TAESD when installed)
- inputs.py      starting image, mask and control image fitted to the size (aspect ratio kept for size "auto")
- preprocess.py  ControlNet control images: canny, scribble, depth
- prompts.py     prompts longer than CLIP's 77 tokens, encoded in 75-token chunks (A1111's way)
- metadata.py    PNG `parameters` (A1111) and `hearth` chunks
- jobs.py        the entry: ImageEngine.generate, the job the Images tab and `hearth image` submit
"""
