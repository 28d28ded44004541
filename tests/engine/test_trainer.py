"""The shared training engine: schedule, optimiser flags, checkpoints, resume, logs, DDP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from partparse.engine.checkpoint import CheckpointManager
from partparse.engine.optim import OptimConfig, ScheduleConfig, build_optimizer, lr_factor
from partparse.engine.train_config import TrainConfig
from partparse.engine.trainer import Trainer
from partparse.io import InputError
from tests.engine.tiny_task import eval_fn, make_dataset, make_model, step_fn


def test_linear_warmup_then_step_decay():
    cfg = ScheduleConfig(epochs=24, milestones=[16, 22], gamma=0.1, warmup_iters=100, warmup_start=0.001)
    assert lr_factor(0, 50, cfg) == pytest.approx(0.001)
    assert lr_factor(50, 50, cfg) == pytest.approx(0.001 + 0.999 * 0.5)
    assert lr_factor(100, 50, cfg) == 1.0
    assert lr_factor(16 * 50 - 1, 50, cfg) == 1.0
    assert lr_factor(16 * 50, 50, cfg) == pytest.approx(0.1)
    assert lr_factor(22 * 50, 50, cfg) == pytest.approx(0.01)
    by_epochs = ScheduleConfig(epochs=58, milestones=[32, 48], warmup_epochs=16, warmup_start=0.1)
    assert lr_factor(8 * 10, 10, by_epochs) == pytest.approx(0.1 + 0.9 * 0.5)   # half way through 160 iters


def test_optimizer_follows_the_config():
    model = make_model()
    opt = build_optimizer(model, OptimConfig(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4))
    g = opt.param_groups[0]
    assert (g["lr"], g["momentum"], g["nesterov"], g["weight_decay"]) == (0.01, 0.9, True, 1e-4)
    opt = build_optimizer(model, OptimConfig(nesterov=False, norm_weight_decay=0.0))
    assert [grp["weight_decay"] for grp in opt.param_groups] == [1e-4, 0.0]
    assert len(opt.param_groups[1]["params"]) == 2          # the BatchNorm weight and bias


def _trainer(tmp_path: Path, epochs: int, **cfg) -> Trainer:
    return Trainer(make_model(), make_dataset(), step_fn,
                   TrainConfig(work_dir=str(tmp_path), batch_size=8, log_interval=2, monitor="neg_mse", **cfg),
                   OptimConfig(lr=0.05, grad_clip=10.0), ScheduleConfig(epochs=epochs, milestones=[2], warmup_iters=3),
                   val_set=make_dataset(16, seed=1), eval_fn=eval_fn, progress=False)


def test_training_learns_logs_and_checkpoints(tmp_path):
    trainer = _trainer(tmp_path, epochs=3)
    history = trainer.fit()
    assert len(history) == 3 and history[-1]["neg_mse"] > history[0]["neg_mse"]
    names = sorted(p.name for p in tmp_path.glob("*.pth"))
    assert names == ["best.pth", "epoch_000.pth", "epoch_001.pth", "epoch_002.pth", "latest.pth"]
    records = trainer.logger.read()
    assert {r["event"] for r in records} == {"train", "val"}
    assert all("lr" in r and "mse" in r for r in records if r["event"] == "train")
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_continues_exactly(tmp_path):
    straight = _trainer(tmp_path / "a", epochs=3)
    straight.fit()
    first = _trainer(tmp_path / "b", epochs=2)
    first.fit()
    resumed = _trainer(tmp_path / "b", epochs=3)
    resumed.fit(resume=True)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert resumed.iteration == straight.iteration


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "latest.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="latest.pth: cannot read checkpoint"):
        CheckpointManager(tmp_path).load()


def test_two_ranks_with_gloo_agree_with_one_process(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(worker), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    # one process, batch 16 = the union of the two ranks' batches of 8: same gradients (mean loss)
    single = Trainer(make_model(batch_norm=False), make_dataset(), step_fn,
                     TrainConfig(work_dir=str(tmp_path / "one"), batch_size=16),
                     OptimConfig(lr=0.05, weight_decay=0.0), ScheduleConfig(epochs=2, milestones=[1]), progress=False)
    single.fit()
    for k, v in single.model.state_dict().items():
        assert torch.equal(r0[k], r1[k]), k                       # replicas stay identical
        assert torch.allclose(r0[k], v, atol=1e-5), k


@pytest.mark.gpu
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_training_steps_on_gpu(tmp_path, amp):
    trainer = Trainer(make_model(), make_dataset(), step_fn,
                      TrainConfig(work_dir=str(tmp_path), batch_size=8, amp=amp),
                      OptimConfig(lr=0.05), ScheduleConfig(epochs=2, milestones=[1]),
                      val_set=make_dataset(16, seed=1), eval_fn=eval_fn, progress=False)
    assert trainer.amp_dtype == (torch.bfloat16 if amp == "bf16" else torch.float16)
    history = trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert history[-1]["neg_mse"] > -1e3


def test_a_diverging_run_stops_with_one_line(tmp_path):
    from partparse.engine.trainer import TrainingDiverged

    def diverging(model, batch, device):
        loss = step_fn(model, batch, device)["mse"]
        return {"mse": loss * float("inf") if trainer.iteration >= 2 else loss}

    trainer = Trainer(make_model(), make_dataset(), diverging, TrainConfig(work_dir=str(tmp_path), batch_size=8),
                      OptimConfig(lr=0.05), ScheduleConfig(epochs=2, milestones=[1]), progress=False)
    with pytest.raises(TrainingDiverged) as err:
        trainer.fit()
    assert isinstance(err.value, InputError) and "\n" not in str(err.value)
    assert str(err.value).startswith(f"{tmp_path}: training diverged: non-finite loss inf at epoch 1, iteration 3")


def test_a_monitor_that_is_no_validation_metric_is_one_line(tmp_path):
    trainer = Trainer(make_model(), make_dataset(), step_fn,
                      TrainConfig(work_dir=str(tmp_path), batch_size=8, monitor="neg_mse_typo"),
                      OptimConfig(lr=0.05), ScheduleConfig(epochs=2, milestones=[1]),
                      val_set=make_dataset(16, seed=1), eval_fn=eval_fn, progress=False)
    with pytest.raises(InputError,
                       match=r"^train.monitor: 'neg_mse_typo' is not a validation metric \(known: neg_mse\)$"):
        trainer.fit()


def test_a_logged_training_loss_is_the_mean_of_its_window(tmp_path):
    # log_interval 2: each record is the mean of the two steps' losses, not the last batch's
    seen: list[float] = []

    def recording_step(model, batch, device):
        losses = step_fn(model, batch, device)
        seen.append(float(losses["mse"]))
        return losses

    trainer = Trainer(make_model(), make_dataset(), recording_step,
                      TrainConfig(work_dir=str(tmp_path), batch_size=8, log_interval=2, monitor="neg_mse"),
                      OptimConfig(lr=0.05), ScheduleConfig(epochs=1, milestones=[2], warmup_iters=1),
                      val_set=make_dataset(16, seed=1), eval_fn=eval_fn, progress=False)
    trainer.fit()
    logged = [r for r in trainer.logger.read() if r["event"] == "train"]
    assert [r["iteration"] for r in logged] == [2, 4, 6, 8]
    for r in logged:
        window = seen[r["iteration"] - 2:r["iteration"]]
        assert r["mse"] == pytest.approx(sum(window) / 2) and r["loss"] == pytest.approx(sum(window) / 2)
