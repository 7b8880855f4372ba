"""The training loop: schedule, batch, forward, backward, step, EMA, log, checkpoint, stop. One screen."""

import time

import torch

from training.flow import sigma_bins
from training.schedule import lr_multiplier
from training.session import Session


def train_step(s: Session, lr: float):
    """One optimisation step at learning rate `lr`; returns (loss, per-sample loss, sigma, batch size)."""
    for group in s.opt.param_groups:
        group["lr"] = lr
    x0, emb, mask = s.batch()
    with s.autocast():
        loss, per_sample, sigma = s.flow.loss(
            s.velocity, x0, emb, mask, generator=s.generator, noise_generator=s.noise_generator
        )
    s.accelerator.backward(loss)
    s.accelerator.clip_grad_norm_(s.model.parameters(), 1.0)
    s.opt.step()
    s.opt.zero_grad(set_to_none=True)
    s.ema.update(s.unwrapped)
    return loss.detach(), per_sample, sigma, x0.shape[0]


def run_loop(s: Session, log, progress) -> str:
    """Train until the budget (or max_steps) says stop; returns why it stopped."""
    cfg, acc = s.cfg, s.accelerator
    step_s, window_start = 0.0, time.time()
    # summed on the device and read only at log points: reading a loss each step would make the GPU
    # wait for the host to queue the next one
    window_loss, window_n, bin_sums, bin_counts = 0.0, 0, 0.0, 0
    while True:
        stop, due = s.decide(step_s)
        if stop:
            if s.device.type == "cuda":  # the queued steps finish inside the measured step time
                t0 = time.time()
                torch.cuda.synchronize(s.device)
                s.steps_s += time.time() - t0
            return "max_steps" if cfg.max_steps is not None and s.step >= cfg.max_steps else "budget"
        if due:
            s.save_checkpoint()
        s.threads.before_step()
        t0 = time.time()
        lr = cfg.learning_rate * lr_multiplier(s.budget.fraction(), cfg.warmup_fraction, cfg.decay_fraction)
        loss, per_sample, sigma, batch = train_step(s, lr)
        s.threads.after_step(time.time() - t0)
        s.step += 1
        s.images_seen += batch * acc.num_processes
        s.step_images += batch * acc.num_processes
        sums, counts = sigma_bins(sigma, per_sample)
        window_loss, window_n = window_loss + loss, window_n + 1
        bin_sums, bin_counts = bin_sums + sums, bin_counts + counts
        if s.step % cfg.log_every == 0:
            # read first: on a GPU this waits for the window's queued steps, which the rate must include
            loss_value, sums_now, counts_now = (
                float(window_loss) / window_n,
                bin_sums.tolist(),
                bin_counts.tolist(),
            )
            elapsed = time.time() - window_start
            metrics = {
                "loss": loss_value,
                "lr": lr,
                "images_per_s": window_n * batch * acc.num_processes / max(elapsed, 1e-9),
                "budget_fraction": s.budget.fraction(),
                "epoch": float(s.sampler.epoch),
            }
            metrics |= {
                f"loss_t{b}": total / count
                for b, (total, count) in enumerate(zip(sums_now, counts_now, strict=True))
                if count
            }
            s.history.append([s.step, metrics["loss"]])
            if acc.is_main_process:
                log(metrics, s.step)
                # seconds of the budget: the pipeline's bar then shows the time left as its ETA
                progress("train (s)", round(time.time() - s.budget.start), round(s.budget.total_s))
            window_loss, window_n, bin_sums, bin_counts, window_start = 0.0, 0, 0.0, 0, time.time()
        # The whole iteration, log point included: on a GPU the host waits for the queued steps only
        # there, so timing train_step alone would miss the GPU's time. A moving average feeds the stop
        # rule, which needs the next step's duration.
        iteration_s = time.time() - t0
        s.steps_s += iteration_s
        step_s = iteration_s if step_s == 0 else 0.9 * step_s + 0.1 * iteration_s
