"""Loads an exported model folder with diffusers' StableDiffusionPipeline and draws a few
captions (PNDM, the folder's own scheduler), writing PNGs for `sdcluster shapes judge`."""
import argparse
import json
import os

import torch
from diffusers import StableDiffusionPipeline

import common
import prompts


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=os.path.join(common.REPO, "models", "shapes"))
    p.add_argument("--out", default=os.path.join(common.STATE, "check_export"))
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=7.5)
    args = p.parse_args()
    common.setup_threads()
    pipe = StableDiffusionPipeline.from_pretrained(args.model, torch_dtype=torch.float32)
    captions = prompts.sample_captions(args.count, seed=99)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "manifest.jsonl"), "w") as f:
        for i, c in enumerate(captions):
            g = torch.Generator("cpu").manual_seed(i)
            image = pipe(c, height=128, width=128, num_inference_steps=args.steps,
                         guidance_scale=args.guidance, generator=g).images[0]
            image.save(os.path.join(args.out, f"{i:02d}.png"))
            f.write(json.dumps({"file": f"{i:02d}.png", "caption": c}) + "\n")
    common.log("check", f"{args.count} images in {args.out}")


if __name__ == "__main__":
    main()
