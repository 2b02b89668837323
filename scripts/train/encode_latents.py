"""Stage 2: encode the whole data set with the trained VAE (posterior mean and std, fp16),
measure the latents' std and fix scaling_factor = 1 / std, as SD v1 did (0.18215)."""
import os

import numpy as np
import torch
from diffusers import AutoencoderKL

import common


def main():
    import argparse
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--count", type=int, default=0, help="encode only the first N images (0: all)")
    args = p.parse_args()
    common.setup_threads()
    ck = common.load_checkpoint(os.path.join(common.STATE, "vae.pt"))
    assert ck is not None, "no VAE checkpoint: run train_vae.py first"
    out_path = os.path.join(common.STATE, "latents.pt")
    old = common.load_checkpoint(out_path)
    images = common.images_uint8()
    count = args.count or len(images)
    if old is not None and old["vae_step"] == ck["step"] and len(old["mean"]) == count:
        common.log("latents", f"up to date (VAE step {ck['step']}, {count} images)")
        return
    images = images[:count]
    vae = AutoencoderKL(**common.VAE_CONFIG)
    vae.load_state_dict(ck["model"])
    vae.eval()
    means, stds = [], []
    # bf16 autocast: about 1.5x faster here, and the latents are stored in fp16 anyway.
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, len(images), 64):
            moments = vae.quant_conv(vae.encoder(common.to_model_range(images[i:i + 64]))).float()
            mean, logvar = moments.chunk(2, dim=1)
            means.append(mean.half()); stds.append(torch.exp(0.5 * logvar.clamp(-30, 20)).half())
            if (i // 64) % 50 == 0:
                common.log("latents", f"{i + 64}/{len(images)}")
    mean, std = torch.cat(means), torch.cat(stds)
    g = torch.Generator().manual_seed(0)
    sample = mean[:4096].float() + std[:4096].float() * torch.randn(mean[:4096].shape, generator=g)
    latent_std = sample.std().item()
    common.log("latents", f"latent mean {sample.mean().item():.4f} std {latent_std:.4f} "
               f"-> scaling_factor {1 / latent_std:.5f}; posterior std mean {std.float().mean().item():.4f}")
    common.save_checkpoint(out_path, {"mean": mean, "std": std, "scaling_factor": 1 / latent_std,
                                      "vae_step": ck["step"]})


if __name__ == "__main__":
    main()
