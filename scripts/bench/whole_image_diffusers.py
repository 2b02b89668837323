#!/usr/bin/env python3
"""One image with diffusers' pipeline, as scripts/bench/whole-image.sh times it and
scripts/bench/full-size-parity.sh compares it.

Loads a diffusers folder of any family (SD 1.x, SD 2.x, SDXL: the pipeline class its
model_index.json names; e.g. the random SD 1.5 of make_random_sd15.py), swaps in the scheduler
asked for (DPM++ 2M Karras: DPMSolverMultistepScheduler with use_karras_sigmas; DDIM; Euler a),
built from the folder's scheduler config, and makes one image with classifier-free guidance, cut off after the first
k = floor(cutoff * steps) steps by a step-end callback that does what diffusers'
SDCFGCutoffCallback does (guidance scale 0, the conditional half of the embeddings kept): the
same k guided steps and the same conditional pass after them as
`sdcluster generate --guidance-cutoff C --late-pass cond`. Writes the PNG and prints a line
`diffusers image: S s in process, N UNet evaluations`. The caller times the whole process.

Usage: whole_image_diffusers.py MODEL_DIR OUT.png [--steps 25] [--cutoff 1] [--guidance 7.5]
       [--size 512] [--seed 42] [--threads N] [--prompt TEXT] [--scheduler dpmpp-2m-karras|ddim|euler-a]
       [--dtype float32|float64]
--dtype float64 runs the whole pipeline in double precision (the same noise, drawn in float32 and
widened): a reference that fp32 programs can be measured against (DDIM: schedulers that draw noise
at every step would draw other float64 values).
"""
import argparse, math, time

start = time.perf_counter()
import torch  # noqa: E402
from diffusers import (DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler,  # noqa: E402
                       EulerAncestralDiscreteScheduler)

SCHEDULERS = {
    "dpmpp-2m-karras": lambda config: DPMSolverMultistepScheduler.from_config(config, use_karras_sigmas=True),
    "ddim": DDIMScheduler.from_config,
    "euler-a": EulerAncestralDiscreteScheduler.from_config,
}


class GuidanceCutoff:
    """Step-end callback: after step k - 1 (so that steps 0 .. k - 1 are guided) one pass per
    step, the conditional one (SDXL: its pooled embeddings and time ids halved too, as
    SDXLCFGCutoffCallback does). Counts the UNet's batch items through a forward pre-hook."""

    def __init__(self, pipe, guided_steps):
        self.guided_steps = guided_steps
        self.evaluations = 0
        self.hook = pipe.unet.register_forward_pre_hook(self.count)

    def count(self, module, args):
        self.evaluations += args[0].shape[0]

    def __call__(self, pipe, step, timestep, tensors):
        if step == self.guided_steps - 1:
            pipe._guidance_scale = 0.0  # do_classifier_free_guidance is guidance_scale > 1
            for name in tensors:  # [uncond, cond] each: keep cond
                tensors[name] = tensors[name].chunk(2)[-1]
        return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--cutoff", type=float, default=1.0)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--prompt", default="a red circle on a blue background")
    ap.add_argument("--scheduler", choices=sorted(SCHEDULERS), default="dpmpp-2m-karras")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    pipe = DiffusionPipeline.from_pretrained(args.model, torch_dtype=dtype, safety_checker=None,
                                             requires_safety_checker=False)
    pipe.scheduler = SCHEDULERS[args.scheduler](pipe.scheduler.config)
    xl = "text_encoder_2" in pipe.components
    tensor_inputs = ["prompt_embeds", "add_text_embeds", "add_time_ids"] if xl else ["prompt_embeds"]
    pipe.set_progress_bar_config(disable=True)
    # sdcluster's rule, with the same 1e-6 tolerance for decimal cut-offs (docs/sampling.md).
    guided = min(args.steps, math.floor(args.cutoff * args.steps + 1e-6))
    cutoff = GuidanceCutoff(pipe, guided)
    latents = None
    if dtype == torch.float64:
        # The pipeline would draw float64 noise (other values): draw float32 noise as the float32
        # run does and widen it.
        scale = pipe.vae_scale_factor
        shape = (1, pipe.unet.config.in_channels, args.size // scale, args.size // scale)
        latents = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(args.seed), dtype=torch.float32).double()
    with torch.inference_mode():
        image = pipe(args.prompt, latents=latents, height=args.size, width=args.size, num_inference_steps=args.steps,
                     guidance_scale=args.guidance if guided > 0 else 1.0, generator=torch.Generator("cpu").manual_seed(args.seed),
                     callback_on_step_end=cutoff if 0 < guided < args.steps else None,
                     callback_on_step_end_tensor_inputs=tensor_inputs).images[0]
    image.save(args.out)
    cutoff.hook.remove()
    print(f"diffusers image: {time.perf_counter() - start:.2f} s in process, {cutoff.evaluations} UNet evaluations",
          flush=True)


if __name__ == "__main__":
    main()
