#!/usr/bin/env python3
"""Save a random-weight Stable Diffusion 1.5 pipeline as a diffusers folder (nothing downloaded).

The real SD 1.5 configs of scripts/bench/bench_diffusers.py, fp32 weights from PyTorch's default
initialisation (seed 0), CLIP's tokenizer copied from the shipped model (models/shapes/tokenizer),
and SD 1.5's scheduler config. `sdcluster generate --model OUT` and diffusers'
`StableDiffusionPipeline.from_pretrained(OUT)` then run the same model: what
scripts/bench/whole-image.sh and the memory measurements use.

Usage: make_random_sd15.py OUT_DIR
"""
import os, shutil, sys

import torch
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_diffusers import SD15_CLIP, SD15_UNET, SD15_VAE  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# SD 1.5's scheduler_config.json.
SD15_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                      set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, trained_betas=None)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    torch.manual_seed(0)
    with torch.no_grad():
        unet = UNet2DConditionModel(**SD15_UNET).eval()
        vae = AutoencoderKL(**SD15_VAE).eval()
        text_encoder = CLIPTextModel(CLIPTextConfig(**SD15_CLIP)).eval()
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(REPO, "models", "shapes", "tokenizer"))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler(**SD15_SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    if os.path.exists(out):
        shutil.rmtree(out)
    pipe.save_pretrained(out, safe_serialization=True)
    print(out)


if __name__ == "__main__":
    main()
