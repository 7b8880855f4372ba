"""The exported model carries the run id and model name its outputs are marked and signed with."""

import json

from audits.provenance_check import check_output
from tests.training.conftest import tiny_config
from training.api import load_pipeline
from training.export import make_pipeline, save_model_dir
from training.presets import build_denoiser
from training.text_encoder import load_text_encoder

RUN, MODEL = "run-export-1", "emoji-t2i"


def test_a_saved_model_marks_and_signs_its_images_for_its_run_without_set_provenance(tmp_path):
    cfg = tiny_config(tmp_path / "cache")
    tokenizer, encoder, _ = load_text_encoder(cfg.text_encoder)
    denoiser = build_denoiser(cfg, encoder.config.hidden_size, 3, cfg.resolution)
    pipe = make_pipeline(denoiser, encoder, tokenizer, 16, 2, 3.0, run_id=RUN, model_name=MODEL)
    model_dir = save_model_dir(pipe, tmp_path / "model")
    index = json.loads((model_dir / "model_index.json").read_text())
    assert (index["run_id"], index["model_name"]) == (RUN, MODEL)
    loaded = load_pipeline(model_dir)
    image = loaded("red heart", num_inference_steps=1).images[0]
    found = check_output(loaded.save_image(image, tmp_path / "heart.png"))
    assert found.status == "signed output" and (found.claimed_run, found.claimed_model) == (RUN, MODEL)
    assert found.iptc["RunID"] == RUN and found.watermark_run == RUN
