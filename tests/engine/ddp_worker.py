"""Run under torchrun: train the tiny task with DDP and save this rank's final parameters."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from partparse.engine.distributed import cleanup, init_distributed  # noqa: E402
from partparse.engine.optim import OptimConfig, ScheduleConfig  # noqa: E402
from partparse.engine.train_config import TrainConfig
from partparse.engine.trainer import Trainer  # noqa: E402
from tests.engine.tiny_task import make_dataset, make_model, step_fn  # noqa: E402

if __name__ == "__main__":
    out = Path(sys.argv[1])
    info = init_distributed("cpu")
    model = make_model(batch_norm=False)  # BN would make gradients depend on the per-rank batch
    trainer = Trainer(model, make_dataset(), step_fn,
                      TrainConfig(work_dir=str(out / "run"), batch_size=8, log_interval=1),
                      OptimConfig(lr=0.05, weight_decay=0.0), ScheduleConfig(epochs=2, milestones=[1]),
                      dist_info=info, progress=False)
    trainer.fit()
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out / f"rank{info.rank}.pt")
    cleanup(info)
