"""Stage 4: export the trained models in the diffusers folder layout, fp16 safetensors:
model_index.json, unet/, text_encoder/, vae/ (scaling_factor = 1 / latent std), scheduler/
(SD v1.5's PNDM config). tokenizer/ is left as it is (the real CLIP files, committed).
Uses the EMA weights of the latest UNet checkpoint; can run while training goes on."""
import argparse
import json
import os

import torch
from diffusers import AutoencoderKL

import common
import train_unet

MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.42.1",
    "feature_extractor": [None, None],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
# scheduler/scheduler_config.json exactly as SD v1.5 ships it.
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=os.path.join(common.REPO, "models", "shapes"))
    p.add_argument("--guidance-scale", type=float, default=2.5,
                   help="the guidance scale written to sdcluster.json, the model's default in sdcluster")
    args = p.parse_args()
    ck = common.load_checkpoint(os.path.join(common.STATE, "unet.pt"))
    vae_ck = common.load_checkpoint(os.path.join(common.STATE, "vae.pt"))
    assert ck is not None and vae_ck is not None, "need vae.pt and unet.pt in $SHAPES_STATE"
    assert ck["vae_step"] == vae_ck["step"], "the UNet was trained on latents of another VAE checkpoint"
    unet, text = train_unet.build()
    unet.load_state_dict(ck["ema_unet"]); text.load_state_dict(ck["ema_text"])
    vae = AutoencoderKL(**common.VAE_CONFIG, scaling_factor=ck["scaling_factor"])
    vae.load_state_dict(vae_ck["model"])
    unet.half().save_pretrained(os.path.join(args.out, "unet"), safe_serialization=True)
    vae.half().save_pretrained(os.path.join(args.out, "vae"), safe_serialization=True)
    text.half().save_pretrained(os.path.join(args.out, "text_encoder"), safe_serialization=True)
    write_json(os.path.join(args.out, "scheduler", "scheduler_config.json"), SD15_SCHEDULER)
    write_json(os.path.join(args.out, "model_index.json"), MODEL_INDEX)
    write_json(os.path.join(args.out, "training.json"), {
        "unet_step": ck["step"], "vae_step": vae_ck["step"], "scaling_factor": ck["scaling_factor"],
        "weights": "EMA of UNet and text encoder", "see": "docs/default-model.md",
        "x0_floor": ck.get("x0_floor", 0.0), "summary_weight": ck.get("summary_weight", 0.0),
        "earlier_vae_steps": [{"vae_step": v, "until_unet_step": u} for v, u in ck.get("vae_history", [])]})
    # What sdcluster uses for requests that set no guidance scale (docs/default-model.md: this
    # small model over-guides at SD's 7.5).
    write_json(os.path.join(args.out, "sdcluster.json"), {"guidance_scale": args.guidance_scale})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.out) for f in fs)
    common.log("export", f"UNet step {ck['step']}, VAE step {vae_ck['step']} -> {args.out} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
