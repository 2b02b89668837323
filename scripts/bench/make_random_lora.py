#!/usr/bin/env python3
"""Write a random kohya-layout LoRA for a diffusers model folder (nothing downloaded).

Covers what kohya's default `networks.lora` trains on SD 1.x: every Linear and 1x1 Conv2d of the
UNet's transformer blocks (attention q/k/v/out, feed-forward, proj_in/proj_out) and every Linear
of the text encoder's layers, at the given rank with alpha = rank / 2. With --locon also every
3x3 Conv2d of the UNet's resnets and samplers (LyCORIS LoCon). Used to measure what switching
LoRA sets costs (docs/weights.md); the values are random, so the images mean nothing.

Usage: make_random_lora.py MODEL_DIR OUT.safetensors [--rank 32] [--locon] [--seed 0]
"""
import argparse

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--locon", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gen = torch.Generator("cpu").manual_seed(args.seed)
    tensors = {}

    def add(stem, weight, rank):
        shape = weight.shape
        kernel = tuple(shape[2:])
        tensors[stem + ".lora_down.weight"] = (torch.randn((rank, shape[1]) + kernel, generator=gen) * 0.01).half()
        tensors[stem + ".lora_up.weight"] = (torch.randn((shape[0], rank) + (1,) * len(kernel), generator=gen) * 0.01).half()
        tensors[stem + ".alpha"] = torch.tensor(rank / 2).half()

    unet = UNet2DConditionModel.from_pretrained(args.model, subfolder="unet")
    for name, module in unet.named_modules():
        in_transformer = "transformer_blocks" in name or name.endswith(("proj_in", "proj_out"))
        if isinstance(module, torch.nn.Linear) and in_transformer:
            add("lora_unet_" + name.replace(".", "_"), module.weight, args.rank)
        elif isinstance(module, torch.nn.Conv2d) and in_transformer and module.kernel_size == (1, 1):
            add("lora_unet_" + name.replace(".", "_"), module.weight, args.rank)
        elif args.locon and isinstance(module, torch.nn.Conv2d) and module.kernel_size == (3, 3) \
                and ("resnets" in name or "samplers" in name):
            add("lora_unet_" + name.replace(".", "_"), module.weight, max(1, args.rank // 2))
    text = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder")
    for name, module in text.named_modules():
        if isinstance(module, torch.nn.Linear) and "layers" in name:
            # kohya's names carry `text_model.`; transformers 5 leaves it out of module names.
            full = name if name.startswith("text_model.") else "text_model." + name
            add("lora_te_" + full.replace(".", "_"), module.weight, args.rank)
    save_file(tensors, args.out)
    print(f"{args.out}: {len(tensors) // 3} layers, rank {args.rank}")


if __name__ == "__main__":
    main()
