"""Diagnostic: which caption attributes does the UNet actually use, and at which noise levels?

For captions of the last 1000 data set images (never held out from training, but enough to see
the effect), the epsilon MSE of the EMA UNet with the true caption is compared with the same
caption with one attribute swapped for another value. A ratio of 1.000 means the model ignores
that attribute at that timestep; the larger, the more it relies on it. This found that the first
UNet run ignored the position and background phrases (ratios 1.000 at every timestep), which
led to --summary-weight and --x0-floor in train_unet.py.

    python attribute_use.py [$SHAPES_STATE/unet.pt]
"""
import random
import sys

import torch
from diffusers import DDPMScheduler
from transformers import CLIPTokenizer

import common
from train_unet import build, tokenize

COLOURS = ["black", "blue", "green", "orange", "purple", "red", "white", "yellow"]
PHRASES = {"center": "in the center", "left": "on the left", "right": "on the right",
           "top": "at the top", "bottom": "at the bottom"}


def swapped(r, attribute):
    """The caption of record r with the stated `attribute` replaced by another valid value."""
    c, stated, drawn = r["caption"], r["stated"], r["attributes"]
    if attribute == "background":
        old = stated["background"]
        new = random.choice([x for x in COLOURS if x not in (old, drawn["color"])])
        return c.replace(f"on a {old} background", f"on a {new} background")
    if attribute == "color":
        old = stated["color"]
        new = random.choice([x for x in COLOURS if x not in (old, drawn["background"])])
        return c.replace(f" {old} ", f" {new} ", 1)
    if attribute == "shape":
        old = stated["shape"]
        new = random.choice([x for x in ["circle", "square", "triangle", "star", "cross"] if x != old])
        return c.replace(f" {old}", f" {new}", 1)
    if attribute == "size":
        old = stated["size"]
        return c.replace(f"a {old} ", f"a {'large' if old == 'small' else 'small'} ", 1)
    old = stated["position"]
    return c.replace(PHRASES[old], PHRASES[random.choice([x for x in PHRASES if x != old])])


@torch.no_grad()
def main():
    torch.set_num_threads(1)
    ck = common.load_checkpoint(sys.argv[1] if len(sys.argv) > 1 else f"{common.STATE}/unet.pt")
    unet, text = build()
    unet.load_state_dict(ck["ema_unet"]); text.load_state_dict(ck["ema_text"]); unet.eval(); text.eval()
    tokenizer = CLIPTokenizer.from_pretrained(common.TOKENIZER)
    schedule = DDPMScheduler(**common.TRAIN_SCHEDULE)
    lat = common.load_checkpoint(f"{common.STATE}/latents.pt")
    records = common.records()
    random.seed(3)
    generator = torch.Generator().manual_seed(5)
    print(f"UNet step {ck['step']}: epsilon MSE with the true caption -> ratio with one attribute swapped")
    for attribute in ["background", "color", "shape", "size", "position"]:
        idx = [i for i in range(len(records) - 1000, len(records)) if attribute in records[i]["stated"]][:96]
        z0 = lat["mean"][idx].float() * lat["scaling_factor"]
        true = text(tokenize(tokenizer, [records[i]["caption"] for i in idx])).last_hidden_state
        wrong = text(tokenize(tokenizer, [swapped(records[i], attribute) for i in idx])).last_hidden_state
        cells = []
        for t in [961, 850, 700, 500]:
            noise = torch.randn(z0.shape, generator=generator)
            zt = schedule.add_noise(z0, noise, torch.full((len(idx),), t))
            ok = (unet(zt, t, true).sample - noise).pow(2).mean().item()
            bad = (unet(zt, t, wrong).sample - noise).pow(2).mean().item()
            cells.append(f"t={t} {ok:.5f} -> {bad / ok:.3f}")
        print(f"{attribute:10s}  " + "   ".join(cells))


if __name__ == "__main__":
    main()
