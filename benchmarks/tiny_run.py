"""The `--set`s of the smallest `pipeline run` that still goes through every stage: plumbing, not a model.

One list for the end-to-end tests (tests/pipeline) and the benchmarks' CPU smoke runs
(`gpu_pipeline.py --smoke`); the tests import it from here because benchmarks do not import from tests/.
Each user adds its own data size, budget, step cap and bootstrap.
"""

# A 16 px model of two small blocks (a few steps take seconds, so no stage waits on the budget), and the
# audits at the smallest samples they still measure with.
TINY_SIZES: list[str] = [
    "training.resolution=16",
    "training.block_out_channels=[16, 32]",
    "training.layers_per_block=1",
    "training.batch_size=4",
    "training.sample_steps=2",
    *[f"audits.{a}.sample_steps=2" for a in ("quality", "bias", "deepfake")],
    "audits.quality.num_images=8",
    "audits.quality.probe_train_images=16",
    "audits.quality.probe_steps=20",
    "audits.quality.kid_subsets=3",
    "audits.deepfake.memorization_prompts=6",
    "audits.deepfake.seeds_per_prompt=1",
    "audits.deepfake.watermark_images=2",
]

# Thresholds loose on purpose: a tiny run checks the plumbing, the audits' own tests check their power.
LOOSE_THRESHOLDS: list[str] = [
    "audits.quality.max_heldout_loss=100",
    "audits.quality.max_heldout_loss_ratio=100",
    "audits.bias.max_representation_disparity=1",
    "audits.bias.max_quality_difference=100",
    "audits.deepfake.max_replication_rate=1",
    "audits.deepfake.max_face_share=1",
    "audits.deepfake.min_watermark_survival=0",
]
