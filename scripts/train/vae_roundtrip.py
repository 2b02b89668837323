"""Judge the VAE's round trip: encode and decode the last N data-set images with a VAE
checkpoint, write the reconstructions with the data set's captions, and run
`sdcluster shapes judge` on them. What the judge cannot find in a reconstruction (a pattern, a
star's points) the UNet cannot draw through this VAE either, so this is the ceiling of every
quality figure.

    python vae_roundtrip.py [--checkpoint $SHAPES_STATE/vae.pt] [--count 400] [--out DIR]
"""
import argparse
import json
import os
import subprocess

import torch
from diffusers import AutoencoderKL
from PIL import Image

import common


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=os.path.join(common.STATE, "vae.pt"))
    p.add_argument("--count", type=int, default=400, help="the last COUNT images of the data set")
    p.add_argument("--out", default=os.path.join(common.STATE, "vae-roundtrip"))
    p.add_argument("--sdcluster", default=os.path.join(common.REPO, ".build", "release", "sdcluster"),
                   help="the sdcluster binary that judges (swift build -c release)")
    args = p.parse_args()
    common.setup_threads()
    ck = common.load_checkpoint(args.checkpoint)
    assert ck is not None, f"no checkpoint at {args.checkpoint}"
    vae = AutoencoderKL(**common.VAE_CONFIG)
    vae.load_state_dict(ck["model"])
    vae.eval()
    records, images = common.records(), common.images_uint8()
    os.makedirs(args.out, exist_ok=True)
    start = len(records) - args.count
    with open(os.path.join(args.out, "captions.jsonl"), "w") as manifest, torch.no_grad():
        for i in range(start, len(records), 50):
            x = common.to_model_range(images[i:min(i + 50, len(records))])
            decoded = common.to_uint8(vae.decode(vae.encode(x).latent_dist.mode()).sample)
            for j, image in enumerate(decoded):
                r = records[i + j]
                Image.fromarray(image).save(os.path.join(args.out, r["file"]))
                manifest.write(json.dumps({"file": r["file"], "caption": r["caption"]}) + "\n")
    common.log("vae-roundtrip", f"VAE step {ck['step']}: {args.count} reconstructions in {args.out}")
    subprocess.run([args.sdcluster, "shapes", "judge", args.out], check=True)


if __name__ == "__main__":
    main()
