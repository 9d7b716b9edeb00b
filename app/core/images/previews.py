"""Cheap previews of the latents at each step.

The default is a fixed linear map from the 4 latent channels to RGB (microseconds, no model). When a TAESD
(AutoencoderTiny) is installed under models/vae, it decodes a much closer preview for little cost.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# Least-squares fits of latent channels → RGB in [-1, 1] (the factors A1111 / ComfyUI use for their previews).
_FACTORS = {
    "sd": ([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
            [-0.2120, -0.2616, -0.7177]], [0.0, 0.0, 0.0]),
    "sdxl": ([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
              [-0.3165, -0.2492, -0.2188]], [0.1084, -0.0175, -0.0011]),
}


def approx_rgb(latents, family: str = "sd1"):
    """First latent of a (B, 4, h, w) tensor → (h, w, 3) uint8 numpy array."""
    import torch

    factors, bias = _FACTORS["sdxl" if family == "sdxl" else "sd"]
    lat = latents[0, :4].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->hwr", lat, torch.tensor(factors)) + torch.tensor(bias)
    return ((rgb.clamp(-1, 1) + 1) * 127.5).to(torch.uint8).numpy()


def find_taesd(family: str):
    """Path of an installed TAESD matching the family (taesdxl for SDXL), or None."""
    from app.core.models import registry

    want_xl = family == "sdxl"
    for model in registry.installed("vae"):
        config = model.path / "config.json"
        try:
            if "AutoencoderTiny" not in config.read_text(encoding="utf-8"):
                continue
        except OSError:
            continue
        if ("xl" in model.name.lower()) == want_xl:
            return model.path
    return None


class Previewer:
    """Turns latents into preview images; loads TAESD lazily when one is installed.

    The engine lives as long as the Images tab, so which TAESD is installed is looked up again for every
    generation (`begin`), not once: one downloaded or removed while Hearth runs is picked up by the next image.
    The model itself is reloaded only when that answer changes."""

    def __init__(self, mode: str = "auto") -> None:
        self.mode = mode  # auto | taesd | approx | off
        self._taesd = None
        self._taesd_key = None  # (family, device, path) of what _taesd holds (False: none, or it failed)
        self._looked_up = None  # (family, device) already looked up in this generation

    def begin(self) -> None:
        """A new generation starts: look for an installed TAESD again at its first preview."""
        self._looked_up = None

    def preview(self, latents, family: str, device: str = "cpu"):
        """A preview of the first latent of `latents` (B x 4 x h x w torch tensor) as an RGB uint8 numpy array: TAESD's
        decode (8h x 8w x 3) when one is installed and the mode allows, else `approx_rgb` (h x w x 3); None when the
        mode is 'off'. Never raises for a broken TAESD (falls back)."""
        if self.mode == "off":
            return None
        if self.mode in ("auto", "taesd"):
            taesd = self._load_taesd(family, device)
            if taesd is not None:
                try:
                    import torch

                    with torch.no_grad():
                        img = taesd.decode(latents[:1].to(taesd.device, taesd.dtype)).sample[0]
                    return ((img.float().clamp(-1, 1) + 1) * 127.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
                except Exception as exc:  # noqa: BLE001 - a broken preview model must not stop generation
                    log.warning("TAESD preview failed (%s); using the linear approximation", exc)
                    self._taesd = False
        return approx_rgb(latents, family)

    def _load_taesd(self, family: str, device: str):
        if self._looked_up == (family, device):
            return self._taesd or None
        self._looked_up = (family, device)
        path = find_taesd(family)
        key = (family, device, path)
        if self._taesd_key == key:
            return self._taesd or None
        self._taesd_key, self._taesd = key, False
        if path is None:
            return None
        try:
            from diffusers import AutoencoderTiny

            self._taesd = AutoencoderTiny.from_pretrained(str(path), local_files_only=True).to(device).eval()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not load TAESD from %s: %s", path, exc)
        return self._taesd or None
