"""The exported model carries the run id and model name its outputs are marked and signed with."""

import json

from PIL import Image
from skimage import data

from audits.provenance_check import check_output
from audits.provenance_marks import read_mark
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


def test_the_exported_watermark_method_is_the_one_save_image_embeds_and_old_models_keep_dwtdctsvd(tmp_path):
    cfg = tiny_config(tmp_path / "cache")
    tokenizer, encoder, _ = load_text_encoder(cfg.text_encoder)
    denoiser = build_denoiser(cfg, encoder.config.hidden_size, 3, cfg.resolution)
    pipe = make_pipeline(
        denoiser, encoder, tokenizer, 16, 2, 3.0, run_id=RUN, model_name=MODEL, watermark_method="rivaGan"
    )
    model_dir = save_model_dir(pipe, tmp_path / "model")
    index_file = model_dir / "model_index.json"
    assert json.loads(index_file.read_text())["watermark_method"] == "rivaGan"
    loaded = load_pipeline(model_dir)
    # a textured image: the untrained tiny model's outputs are near flat, which RivaGAN often misses
    image = Image.fromarray(data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS)
    path = loaded.save_image(image, tmp_path / "riva.png")
    found = check_output(path)
    assert found.recognised and found.watermark_method == "rivaGan" and found.watermark_run == RUN
    assert read_mark(path, RUN, method="rivaGan").watermark_found
    # a model exported before the key existed: its outputs keep the mark they always had
    index = json.loads(index_file.read_text())
    del index["watermark_method"]
    index_file.write_text(json.dumps(index))
    old = load_pipeline(model_dir).save_image(image, tmp_path / "old.png")
    assert check_output(old).watermark_method == "dwtDctSvd"
    assert read_mark(old, RUN, method="dwtDctSvd").watermark_found
