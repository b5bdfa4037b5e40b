"""Stop a diverging run at once, before a non-finite model can be checkpointed."""

import lightning as L
import torch

from aelab.errors import NonFiniteLossError


class NonFiniteGuard(L.Callback):
    """Raise `NonFiniteLossError` when the training loss or the weights stop being finite.

    On the CPU the loss is checked every step (no cost: no device sync); on an accelerator every
    `check_every_n_steps` steps, to avoid a host sync per step. The weights are checked before
    every validation and every checkpoint, so a checkpoint never holds NaN weights.
    """

    def __init__(self, check_every_n_steps: int = 50) -> None:
        self.check_every_n_steps = check_every_n_steps

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        on_cpu = module.device.type == "cpu"
        if not on_cpu and trainer.global_step % self.check_every_n_steps:
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss became {loss.item()} at epoch {trainer.current_epoch}, step "
                f"{trainer.global_step}; lower model.lr or check the data"
            )

    def on_validation_start(self, trainer, module) -> None:
        if not trainer.sanity_checking:
            self._check_weights(trainer, module)

    def on_save_checkpoint(self, trainer, module, checkpoint) -> None:
        self._check_weights(trainer, module)  # never write non-finite weights over a good file

    @staticmethod
    def _check_weights(trainer, module) -> None:
        for name, parameter in module.named_parameters():
            if not torch.isfinite(parameter).all():
                raise NonFiniteLossError(
                    f"parameter {name} is no longer finite at epoch {trainer.current_epoch}; "
                    "lower model.lr"
                )
