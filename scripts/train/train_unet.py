"""Stage 3: train the UNet2DConditionModel and the CLIPTextModel together, from scratch, on
VAE latents of the shapes data set: epsilon objective, SD v1's scaled_linear 1000-step schedule,
10% of captions replaced by "" (for classifier-free guidance), prompts padded to 77 tokens with
<|endoftext|> as SD v1 pipelines do. EMA of both models. Resumable from $SHAPES_STATE/unet.pt.

Two training-only aids (the exported models are plain SD v1 models, used exactly like one):
- --x0-floor: noisy timesteps weigh at least that much in terms of the image error; the plain
  epsilon loss weighs them almost nothing, yet they are where the prompt decides the layout;
- --summary-weight: a small head reads every stated attribute back from the text encoder's
  [EOS] states (what CLIP's pre-training gives a real text encoder); without it the encoder
  learnt the first words of a caption and ignored the position and background phrases."""
import argparse
import copy
import json
import os
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

import common
import prompts


def tokenize(tokenizer, captions):
    return tokenizer(captions, padding="max_length", max_length=77, truncation=True,
                     return_tensors="pt").input_ids


ATTRIBUTES = {
    "background": ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"],
    "color": ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"],
    "shape": ["circle", "square", "triangle", "star", "cross"],
    "size": ["small", "large"],
    "position": ["center", "left", "right", "top", "bottom"],
    "pattern": ["plain", "striped", "dotted"],
}


def attribute_labels(records):
    """(N, attributes) class indices of what each caption states; -100 (ignored) where it does not."""
    out = torch.full((len(records), len(ATTRIBUTES)), -100, dtype=torch.long)
    for i, r in enumerate(records):
        for j, (name, values) in enumerate(ATTRIBUTES.items()):
            if name in r["stated"]:
                out[i, j] = values.index(r["stated"][name])
    return out


class CaptionSummaryHead(torch.nn.Module):
    """Training-only: reads every stated attribute back from the text encoder's [EOS] states.
    CLIP's contrastive pre-training makes its [EOS] state summarise the whole caption, and SD's
    UNet leans on those states (most of the 77 are [EOS] padding). A text encoder trained from
    scratch through the UNet alone learnt the words near the start (colour, shape, size) and
    ignored the late phrases (position, background): their tokens barely changed the [EOS]
    states. This head gives the encoder the same incentive CLIP's pre-training does; it is not
    exported and changes nothing at inference."""

    def __init__(self, width):
        super().__init__()
        self.heads = torch.nn.ModuleList(torch.nn.Linear(width, len(v)) for v in ATTRIBUTES.values())

    def loss(self, hidden, tokens, labels, eos_id):
        first_eos = (tokens == eos_id).int().argmax(dim=1)
        rows = torch.arange(len(tokens))
        states = [hidden[rows, first_eos], hidden[:, -1]]  # the pooled state and the last padding state
        total, count = 0.0, 0
        for j, head in enumerate(self.heads):
            target = labels[:, j]
            if (target >= 0).any():
                for st in states:
                    total = total + F.cross_entropy(head(st.float()), target, ignore_index=-100)
                    count += 1
        return total / max(count, 1)


def build():
    unet = UNet2DConditionModel(**common.UNET_CONFIG)
    text = CLIPTextModel(CLIPTextConfig(**common.TEXT_CONFIG))
    return unet, text


@torch.no_grad()
def ema_update(ema, model, decay):
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - decay)


@torch.no_grad()
def sample_grid(step, unet, text, tokenizer, scale, count=16, guidance=5.0, steps=20):
    """Draws the fixed captions with DDIM + CFG, saves a grid and PNGs, and judges them with
    sdcluster's judge when the binary is there."""
    vae_ck = common.load_checkpoint(os.path.join(common.STATE, "vae.pt"))
    vae = AutoencoderKL(**common.VAE_CONFIG); vae.load_state_dict(vae_ck["model"]); vae.eval()
    captions = prompts.sample_captions(count)
    cond = text(tokenize(tokenizer, captions)).last_hidden_state
    uncond = text(tokenize(tokenizer, [""] * len(captions))).last_hidden_state
    sched = DDIMScheduler(**common.TRAIN_SCHEDULE, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(0)
    z = torch.randn((len(captions), 4, 16, 16), generator=g)
    for t in sched.timesteps:
        eps = unet(torch.cat([z, z]), t, torch.cat([uncond, cond])).sample
        e_u, e_c = eps.chunk(2)
        z = sched.step(e_u + guidance * (e_c - e_u), t, z).prev_sample
    images = common.to_uint8(vae.decode(z / scale).sample)
    out_dir = os.path.join(common.STATE, "samples", f"unet_{step:06d}")
    os.makedirs(out_dir, exist_ok=True)
    from PIL import Image
    with open(os.path.join(out_dir, "manifest.jsonl"), "w") as f:
        for i, (im, c) in enumerate(zip(images, captions)):
            Image.fromarray(im).save(os.path.join(out_dir, f"{i:02d}.png"))
            f.write(json.dumps({"file": f"{i:02d}.png", "caption": c}) + "\n")
    common.save_grid(images, out_dir + ".png")
    judge = os.path.join(common.STATE, "sdcluster-shapes")
    if os.path.exists(judge):
        r = subprocess.run([judge, "shapes", "judge", out_dir, "--manifest", os.path.join(out_dir, "manifest.jsonl")],
                           capture_output=True, text=True)
        common.log("unet", f"step {step} judge of {count} samples (DDIM {steps}, CFG {guidance}):\n{r.stdout}{r.stderr}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=12000, help="total optimizer steps to reach")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--uncond-prob", type=float, default=0.1)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--checkpoint-minutes", type=float, default=10)
    p.add_argument("--sample-every", type=int, default=1000)
    p.add_argument("--x0-floor", type=float, default=0.2,
                   help="lowest weight of a timestep's error measured on the image (x0) rather than on the "
                        "noise: the plain epsilon loss weighs x0 errors by the signal-to-noise ratio, almost "
                        "nothing at t > 850 where only the prompt can set the background, position and size; "
                        "0 gives the plain epsilon loss")
    p.add_argument("--summary-weight", type=float, default=0.05,
                   help="weight of the training-only loss that reads the caption's attributes back from "
                        "the text encoder's [EOS] states (see CaptionSummaryHead); 0 turns it off")
    p.add_argument("--adopt-vae", action="store_true",
                   help="when the latents come from a newer VAE checkpoint than the UNet was trained on, "
                        "keep training the UNet on them instead of starting afresh (for a VAE fine-tuned "
                        "from the old one, whose latent space moved little)")
    args = p.parse_args()
    common.setup_threads()
    torch.manual_seed(0)
    lat = common.load_checkpoint(os.path.join(common.STATE, "latents.pt"))
    assert lat is not None, "no latents: run encode_latents.py first"
    mean, std, scale = lat["mean"], lat["std"], lat["scaling_factor"]
    tokenizer = CLIPTokenizer.from_pretrained(common.TOKENIZER)
    # The latents may cover only the first N images (encode_latents.py --count).
    ids = tokenize(tokenizer, [r["caption"] for r in common.records()[:len(mean)]])
    empty = tokenize(tokenizer, [""])[0]
    labels = attribute_labels(common.records()[:len(mean)])
    unet, text = build()
    ema_unet, ema_text = copy.deepcopy(unet), copy.deepcopy(text)
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    summary = CaptionSummaryHead(common.TEXT_CONFIG["hidden_size"])
    summary_opt = torch.optim.AdamW(summary.parameters(), lr=args.lr, weight_decay=0.01)
    noise_sched = DDPMScheduler(**common.TRAIN_SCHEDULE)
    snr = noise_sched.alphas_cumprod / (1 - noise_sched.alphas_cumprod)
    # Per-timestep weight of the epsilon error: epsilon error = SNR * x0 error, so a weight of
    # max(1, floor / SNR) keeps the epsilon loss where it is >= floor in x0 terms and raises it
    # to floor at the noisy end. The model stays an epsilon predictor; only the emphasis moves.
    weight = (args.x0_floor / snr).clamp(min=1.0) if args.x0_floor > 0 else torch.ones_like(snr)
    path = os.path.join(common.STATE, "unet.pt")
    step = 0
    ck = common.load_checkpoint(path)
    if ck and ck["vae_step"] != lat["vae_step"] and args.adopt_vae:
        common.log("unet", f"latents come from VAE step {lat['vae_step']}, checkpoint from {ck['vae_step']}: "
                   f"--adopt-vae, continuing on the new latents")
        # (VAE step, UNet step) pairs: which VAE each stretch of UNet training saw.
        ck["vae_history"] = ck.get("vae_history", []) + [(ck["vae_step"], ck["step"])]
    elif ck and ck["vae_step"] != lat["vae_step"]:
        # Another VAE means another latent space: keep the old run aside and start afresh.
        old = os.path.join(common.STATE, f"unet_vae{ck['vae_step']}_step{ck['step']}.pt")
        os.replace(path, old)
        common.log("unet", f"latents come from VAE step {lat['vae_step']}, checkpoint from {ck['vae_step']}: "
                   f"moved it to {old}, starting afresh")
        ck = None
    if ck:
        unet.load_state_dict(ck["unet"]); text.load_state_dict(ck["text"])
        ema_unet.load_state_dict(ck["ema_unet"]); ema_text.load_state_dict(ck["ema_text"])
        opt.load_state_dict(ck["opt"]); step = ck["step"]; torch.set_rng_state(ck["rng"])
        if "summary" in ck:
            summary.load_state_dict(ck["summary"]); summary_opt.load_state_dict(ck["summary_opt"])
        common.log("unet", f"resumed at step {step}")
    vae_history = ck.get("vae_history", []) if ck else []
    n_u = sum(p.numel() for p in unet.parameters()) / 1e6
    n_t = sum(p.numel() for p in text.parameters()) / 1e6
    common.log("unet", f"UNet {n_u:.2f}M + text encoder {n_t:.2f}M parameters, {len(ids)} captions, "
               f"scaling_factor {scale:.5f}")
    rng = np.random.default_rng(step + 777)
    last_save, t0, window = time.time(), time.time(), []
    flag = common.StopFlag()
    while step < args.steps and not flag.stop:
        idx = torch.from_numpy(rng.choice(len(ids), args.batch, replace=False))
        z = (mean[idx].float() + std[idx].float() * torch.randn(args.batch, 4, 16, 16)) * scale
        tokens = ids[idx].clone()
        dropped = torch.rand(args.batch) < args.uncond_prob
        tokens[dropped] = empty
        batch_labels = labels[idx].clone()
        batch_labels[dropped] = -100
        noise = torch.randn_like(z)
        t = torch.randint(0, 1000, (args.batch,))
        noisy = noise_sched.add_noise(z, noise, t)
        for g in opt.param_groups + summary_opt.param_groups:
            g["lr"] = common.learning_rate(args.lr, step, args.steps, warmup=500, decay_share=0.2)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            enc = text(tokens).last_hidden_state
            pred = unet(noisy, t, enc).sample
        per_sample = (pred.float() - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (weight[t] * per_sample).mean()
        summary_loss = (summary.loss(enc, tokens, batch_labels, common.TEXT_CONFIG["eos_token_id"])
                        if args.summary_weight > 0 else torch.zeros(()))
        opt.zero_grad(set_to_none=True); summary_opt.zero_grad(set_to_none=True)
        (loss + args.summary_weight * summary_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step(); summary_opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        ema_update(ema_unet, unet, decay); ema_update(ema_text, text, decay)
        window.append((loss.item(), per_sample.mean().item(), summary_loss.item()))
        if step % 50 == 0:
            weighted, plain, summ = np.mean(window, axis=0)
            common.log("unet", f"step {step} loss {weighted:.4f} (epsilon mse {plain:.4f}, caption summary {summ:.3f}) "
                       f"{(time.time() - t0) / 50:.2f} s/step")
            window, t0 = [], time.time()
        done = step == args.steps
        if (time.time() - last_save > args.checkpoint_minutes * 60 or done or flag.stop
                or step % args.sample_every == 0):
            common.save_checkpoint(path, {"unet": unet.state_dict(), "text": text.state_dict(),
                                          "ema_unet": ema_unet.state_dict(), "ema_text": ema_text.state_dict(),
                                          "opt": opt.state_dict(), "step": step, "rng": torch.get_rng_state(),
                                          "scaling_factor": scale, "vae_step": lat["vae_step"],
                                          "x0_floor": args.x0_floor, "summary": summary.state_dict(),
                                          "summary_opt": summary_opt.state_dict(),
                                          "summary_weight": args.summary_weight, "vae_history": vae_history})
            last_save = time.time()
        if step % args.sample_every == 0 or done:
            ema_unet.eval(); ema_text.eval()
            sample_grid(step, ema_unet, ema_text, tokenizer, scale)
    if flag.stop:
        common.log("unet", f"stopped by signal at step {step} (checkpoint saved)")
        raise SystemExit(143)
    common.log("unet", f"done at step {step}")


if __name__ == "__main__":
    main()
