#!/usr/bin/env python3
"""Save a random-weight Stable Diffusion 1.5 (or, with --sd2, SD 2.1 768-v) pipeline as a diffusers folder.

Nothing downloaded: the real SD 1.5 (SD 2.1) configs of scripts/bench/bench_diffusers.py, fp32 weights
from PyTorch's default initialisation (seed 0), CLIP's tokenizer copied from the shipped model
(models/shapes/tokenizer; vocab.json and merges.txt as they are, for SD 2.1 padding with "!"), and
SD 1.5's (SD 2.1's: DDIM, v-prediction) scheduler config. `sdcluster generate --model OUT` and diffusers'
`StableDiffusionPipeline.from_pretrained(OUT)` then run the same model: what
scripts/bench/whole-image.sh and the memory measurements use.

Usage: make_random_sd15.py OUT_DIR [--sd2]
"""
import json, os, shutil, sys

import torch
from diffusers import AutoencoderKL, DDIMScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_diffusers import SD15_CLIP, SD15_UNET, SD15_VAE, SD2_CLIP, SD2_UNET  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# SD 1.5's scheduler_config.json.
SD15_SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                      set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, trained_betas=None)
# SD 2.1 (768-v)'s: DDIM, v-prediction; its text encoder (OpenCLIP ViT-H) projects to 512.
SD2_SCHEDULER = dict({k: v for k, v in SD15_SCHEDULER.items() if k != "skip_prk_steps"}, clip_sample=False,
                     prediction_type="v_prediction")
SD2_TEXT = dict(SD2_CLIP, projection_dim=512, bos_token_id=0, eos_token_id=2, pad_token_id=1)


def main():
    args = [a for a in sys.argv[1:] if a != "--sd2"]
    if len(args) != 1:
        sys.exit(__doc__)
    out, sd2 = args[0], "--sd2" in sys.argv
    torch.manual_seed(0)
    with torch.no_grad():
        unet = UNet2DConditionModel(**(SD2_UNET if sd2 else SD15_UNET)).eval()
        vae = AutoencoderKL(**dict(SD15_VAE, sample_size=768 if sd2 else 512)).eval()
        text_encoder = CLIPTextModel(CLIPTextConfig(**(SD2_TEXT if sd2 else SD15_CLIP))).eval()
    source = os.path.join(REPO, "models", "shapes", "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(source, **({"pad_token": "!"} if sd2 else {}))
    scheduler = DDIMScheduler(**SD2_SCHEDULER) if sd2 else PNDMScheduler(**SD15_SCHEDULER)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    if os.path.exists(out):
        shutil.rmtree(out)
    pipe.save_pretrained(out, safe_serialization=True)
    # This transformers version saves tokenizer.json only; sdcluster reads vocab.json and merges.txt.
    folder = os.path.join(out, "tokenizer")
    for name in ["vocab.json", "merges.txt"]:
        shutil.copy(os.path.join(source, name), folder)
    if sd2:
        with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
            json.dump(dict(bos_token="<|startoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                           pad_token="!"), f, indent=2)
    print(out)


if __name__ == "__main__":
    main()
