"""Stage 1: train the AutoencoderKL (SD v1 structure, scaled down) on the shapes data set.

Resumable: checkpoints to $SHAPES_STATE/vae.pt every few minutes and continues from there.
Loss: L1 reconstruction + L1 on image gradients (keeps edges sharp) + 1e-6 KL, plus two terms
for the objects' stripes and dots (a first VAE trained without them drew every object plain:
the dark bands are a third of a striped object, so L1's best constant over an object is its
plain colour, and the latents never learnt to carry the pattern):
- detail weighting: each pixel's L1 error is weighted by 1 + w * its local contrast (distance to
  its 3x3 mean), so missing a dark band costs several times what a flat pixel costs;
- texture energy: the mean squared difference along x, y and both diagonals over each 8x8
  latent cell, compared between image and reconstruction. Phase-insensitive: it rewards drawing
  diagonal stripes or dots of the right strength in the right cell even before the exact
  positions are learnt, which gives the encoder a gradient towards carrying the pattern at all.
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

import common


def gradient_l1(a, b):
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def detail_weights(x, strength):
    """1 + strength * local contrast: |pixel - mean of its 3x3 neighbourhood|, summed over RGB."""
    local_mean = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return 1 + strength * (x - local_mean).abs().sum(1, keepdim=True)


def texture_energy(x, cell=8):
    """Per 8x8 cell: root mean squared difference to the neighbour along x, y, and the two
    diagonals (diagonal stripes light up one diagonal only, dots all four directions)."""
    pad = F.pad(x, (1, 1, 1, 1), mode="replicate")
    c = pad[..., 1:-1, 1:-1]
    neighbours = (pad[..., 1:-1, 2:], pad[..., 2:, 1:-1], pad[..., 2:, 2:], pad[..., 2:, :-2])
    energies = [((n - c) ** 2).sum(1, keepdim=True) for n in neighbours]
    return (F.avg_pool2d(torch.cat(energies, 1), cell) + 1e-6).sqrt()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=4000, help="total optimizer steps to reach")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=8e-4)
    p.add_argument("--kl-weight", type=float, default=1e-6)
    p.add_argument("--detail-weight", type=float, default=20.0,
                   help="L1 weight per pixel is 1 + this * local contrast (0: plain L1)")
    p.add_argument("--texture-weight", type=float, default=1.0,
                   help="weight of the per-cell texture-energy L1 (0: off)")
    p.add_argument("--checkpoint-minutes", type=float, default=5)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--crop", type=int, default=64,
                   help="train on random crops of this side (the VAE is convolutional; SD's was trained on "
                        "256 px crops and used at 512): 4x cheaper than whole 128 px images")
    args = p.parse_args()
    common.setup_threads()
    torch.manual_seed(0)
    images = common.images_uint8()
    vae = AutoencoderKL(**common.VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=0.0)
    path = os.path.join(common.STATE, "vae.pt")
    step = 0
    ck = common.load_checkpoint(path)
    if ck:
        vae.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step = ck["step"]
        torch.set_rng_state(ck["rng"])
        common.log("vae", f"resumed at step {step}")
    common.log("vae", f"{sum(p.numel() for p in vae.parameters()) / 1e6:.2f}M parameters, {len(images)} images")
    rng = np.random.default_rng(step + 12345)
    held_out = common.to_model_range(images[-16:])  # the last 16 images are only for sample grids
    last_save, t0, window = time.time(), time.time(), []
    flag = common.StopFlag()
    side = images.shape[1]
    while step < args.steps and not flag.stop:
        idx = np.sort(rng.choice(len(images) - 16, args.batch, replace=False))
        # Crop offsets on the 8-pixel latent grid, so crops see the same phase as whole images.
        oy, ox = (rng.integers(0, (side - args.crop) // 8 + 1, size=2) * 8).tolist()
        x = common.to_model_range(images[idx, oy:oy + args.crop, ox:ox + args.crop])
        for g in opt.param_groups:
            g["lr"] = common.learning_rate(args.lr, step, args.steps, warmup=200)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            post = vae.encode(x).latent_dist
            z = post.sample()
            rec = vae.decode(z).sample.float()
        # SD weighs a per-image *sum* of reconstruction error against kl_weight * KL; the same
        # ratio with a per-pixel mean is kl_weight * KL / pixels.
        kl = post.kl().float().mean()
        l1 = (rec - x).abs().mean()
        weighted = (detail_weights(x, args.detail_weight) * (rec - x).abs()).mean()
        texture = (texture_energy(rec) - texture_energy(x)).abs().mean()
        loss = (weighted + 0.5 * gradient_l1(rec, x) + args.texture_weight * texture
                + args.kl_weight * kl / x[0].numel())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        window.append((loss.item(), l1.item(), F.mse_loss(rec, x).item(), texture.item()))
        if step % 50 == 0:
            m = np.mean(window, axis=0); window = []
            common.log("vae", f"step {step} loss {m[0]:.4f} l1 {m[1]:.4f} mse {m[2]:.5f} texture {m[3]:.4f} "
                       f"kl {kl.item():.3f} {(time.time() - t0) / 50:.2f} s/step")
            t0 = time.time()
        if step % args.sample_every == 0 or step == args.steps:
            with torch.no_grad():
                rec = vae.decode(vae.encode(held_out).latent_dist.mode()).sample
            err = (rec - held_out).abs().mean().item() * 127.5
            common.log("vae", f"step {step} held-out mean abs error {err:.2f}/255")
            both = np.concatenate([common.to_uint8(held_out), common.to_uint8(rec)])
            common.save_grid(both, os.path.join(common.STATE, "samples", f"vae_{step:06d}.png"))
        if time.time() - last_save > args.checkpoint_minutes * 60 or step == args.steps or flag.stop:
            common.save_checkpoint(path, {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step,
                                          "rng": torch.get_rng_state(), "config": common.VAE_CONFIG})
            last_save = time.time()
    if flag.stop:
        common.log("vae", f"stopped by signal at step {step} (checkpoint saved)")
        raise SystemExit(143)
    common.log("vae", f"done at step {step}")


if __name__ == "__main__":
    main()
