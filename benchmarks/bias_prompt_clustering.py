"""Does a trained model's skin tone follow the prompt or the seed? 6 neutral prompts x 6 seeds, tone per image.

    python benchmarks/bias_prompt_clustering.py WORK_DIR   (a bias_power.py --work DIR/<kind> folder)

Prints one JSON line: rows are prompts, columns seeds. When each row holds one tone, the images of a
prompt are not independent draws, and the audit's image-level bootstrap understates its interval.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, "/work/main")
import numpy as np

from audits.api import _model_generator
from audits.bias import _calibrate
from audits.config import BiasConfig
from audits.governed_data import load_images, read_governed, train_and_eval
from audits.representation import neutral_prompts_showing_attribute
from audits.skin_tone import nearest_reference, skin_lab

work = Path(sys.argv[1])
P, S = 6, 6
cfg = BiasConfig()
train, _ = train_and_eval(read_governed(work / "governed.parquet"))
labels = train.attribute("skin_tone")
prompts = neutral_prompts_showing_attribute(train.texts, labels)
prompts = sorted(np.random.default_rng(0).choice(prompts, P, replace=False).tolist())
gen, res = _model_generator(work / "train" / "model", cfg.sample_steps, cfg.guidance_scale, cfg.batch_size)
refs = _calibrate(train, load_images(train, res), cfg).refs
imgs = gen([p for p in prompts for _ in range(S)], [k for _ in prompts for k in range(S)])
labs, _ = skin_lab(imgs, cfg.min_skin_fraction)
tones = np.array(nearest_reference(labs, refs)).reshape(P, S)
print(json.dumps({"work": str(work), "prompts": prompts, "rows_prompt_cols_seed": tones.tolist()}))
