"""Drives a running `sdcluster coordinator --http` with webuiapi, the Python client of
AUTOMATIC1111's web UI API, and prints what it got back (docs/http.md, "Tried with an A1111
client"). Not a test of the project (the Swift tests are); a check that a real A1111 client
reads our answers.

    python3 -m venv /tmp/webui && /tmp/webui/bin/pip install webuiapi
    sdcluster coordinator --http 127.0.0.1:7860 &   # and a worker on the tiny test model
    /tmp/webui/bin/python scripts/http-webuiapi-check.py 7860
"""
import sys

import webuiapi

port = int(sys.argv[1]) if len(sys.argv) > 1 else 7860
api = webuiapi.WebUIApi(host="127.0.0.1", port=port)
print("models:", [m["title"] for m in api.get_sd_models()])
print("samplers:", [s["name"] for s in api.get_samplers()])
# A1111's split sampler and schedule: DPM++ 2M with Karras is sdcluster's dpmpp-2m-karras.
result = api.txt2img(prompt="shape 1", negative_prompt="blurry", seed=7, steps=4, cfg_scale=7.5, width=32, height=32,
                     sampler_name="DPM++ 2M", scheduler="Karras", batch_size=2)
print("images:", [(image.size, image.mode) for image in result.images])
print("seeds:", result.info["all_seeds"], "sampler:", result.info["sampler_name"])
print("infotext[0]:", result.info["infotexts"][0])
print("PNG parameters chunk equals infotext[0]:", result.images[0].info.get("parameters") == result.info["infotexts"][0])
# webuiapi's own defaults (seed -1, Euler a, eta 1, s_noise 1, hr fields off, ...).
print("default call, seed drawn:", api.txt2img(prompt="x", width=32, height=32, steps=2).info["all_seeds"])
print("progress:", api.get_progress())
api.util_set_model("tiny-sd")
print("options model:", api.get_options()["sd_model_checkpoint"])
try:
    api.txt2img(prompt="x", sampler_name="Heun", steps=2, width=32, height=32)
except RuntimeError as error:
    print("Heun ->", error.args[0], error.args[1])
