// StableDiffusion module.
