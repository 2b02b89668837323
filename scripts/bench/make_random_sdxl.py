#!/usr/bin/env python3
"""Save a random-weight SDXL 1.0 base pipeline as a diffusers folder (nothing downloaded).

SDXL 1.0 base's real configs (scripts/bench/bench_diffusers.py: SDXL_UNET, SDXL_VAE, SDXL_CLIP,
SDXL_CLIP2), fp32 weights from PyTorch's default initialisation (seed 0), CLIP's tokenizer copied
from the shipped model (models/shapes/tokenizer; tokenizer_2 pads with "!" as SDXL's does), SDXL's
EulerDiscreteScheduler config and a model_index.json with force_zeros_for_empty_prompt true.
`sdcluster generate --model OUT` and diffusers' `StableDiffusionXLPipeline.from_pretrained(OUT)`
then run the same model: what the SDXL memory and guidance cut-off measurements of
docs/performance.md use.

About 14 GB of fp32 safetensors (the UNet alone 10.3 GB, as SDXL's own fp32 file). The components
are made and written one at a time, each tensor streamed into its file, so the peak memory is
about the UNet's size (diffusers' save_pretrained would shard the UNet and copy its tensors).

Usage: make_random_sdxl.py OUT_DIR
"""
import json, os, shutil, struct, sys

import diffusers
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_diffusers import SDXL_CLIP, SDXL_CLIP2, SDXL_UNET, SDXL_VAE  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# SDXL 1.0 base's scheduler/scheduler_config.json (Euler, "leading" timesteps).
SDXL_SCHEDULER = dict(_class_name="EulerDiscreteScheduler", beta_start=0.00085, beta_end=0.012,
                      beta_schedule="scaled_linear", clip_sample=False, interpolation_type="linear",
                      num_train_timesteps=1000, prediction_type="epsilon", sample_max_value=1.0,
                      set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1, timestep_spacing="leading",
                      trained_betas=None, use_karras_sigmas=False)


def write_safetensors(path, state):
    """Writes `state` (name -> fp32 tensor) as one safetensors file, one tensor at a time."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, tensor in state.items():
        assert tensor.dtype == torch.float32, name
        size = tensor.numel() * 4
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for tensor in state.values():
            f.write(memoryview(tensor.detach().contiguous().numpy()).cast("B"))


def save_diffusers_model(model, folder):
    os.makedirs(folder)
    model.save_config(folder)
    write_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors"), model.state_dict())


def save_transformers_model(model, folder):
    os.makedirs(folder)
    model.config.save_pretrained(folder)
    write_safetensors(os.path.join(folder, "model.safetensors"), model.state_dict())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, make, save in [
            ("unet", lambda: UNet2DConditionModel(**SDXL_UNET), save_diffusers_model),
            ("vae", lambda: AutoencoderKL(**SDXL_VAE), save_diffusers_model),
            ("text_encoder", lambda: CLIPTextModel(CLIPTextConfig(**SDXL_CLIP)), save_transformers_model),
            ("text_encoder_2", lambda: CLIPTextModelWithProjection(CLIPTextConfig(**SDXL_CLIP2)),
             save_transformers_model),
        ]:
            model = make().eval()
            save(model, os.path.join(out, name))
            print(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters", flush=True)
            del model
    # The tokenizer files as they are (vocab.json and merges.txt: what sdcluster reads; the transformers version
    # here would save tokenizer.json only), the second one's pad token changed to "!".
    source = os.path.join(REPO, "models", "shapes", "tokenizer")
    for name, pad in [("tokenizer", None), ("tokenizer_2", "!")]:
        shutil.copytree(source, os.path.join(out, name))
        for file in ["special_tokens_map.json", "tokenizer_config.json"]:
            path = os.path.join(out, name, file)
            with open(path) as f:
                tokens = json.load(f)
            tokens["pad_token"] = pad or tokens["pad_token"]
            with open(path, "w") as f:
                json.dump(tokens, f, indent=2)
        assert CLIPTokenizer.from_pretrained(os.path.join(out, name)).pad_token == (pad or "<|endoftext|>")
    os.makedirs(os.path.join(out, "scheduler"))
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(dict(SDXL_SCHEDULER, _diffusers_version=diffusers.__version__), f, indent=2)
    index = {"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": diffusers.__version__,
             "force_zeros_for_empty_prompt": True, "feature_extractor": [None, None], "image_encoder": [None, None],
             "scheduler": ["diffusers", "EulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"],
             "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
    print(out)


if __name__ == "__main__":
    main()
