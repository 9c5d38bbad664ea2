"""Callbacks that schedule the KL weight beta of a `keras_vae.VAE` during `fit`.

The VAE keeps beta in a non-trainable variable, `model.beta`, which the compiled
train step reads on every step (also under `jit_compile=True`), so assigning it
from a callback changes the loss that is optimised from the next step on.

    model.fit(data, epochs=30, callbacks=[LinearBetaWarmup(warmup_epochs=10)])

Each callback writes the beta of the epoch into the epoch's logs (`logs["beta"]`),
so `History`, `CSVLogger` and `TensorBoard` record it when they come after the
schedule in the callbacks list. Callbacks are not saved with the model: a
reloaded model keeps the last assigned beta in its config.
"""

import math

import keras


class BetaSchedule(keras.callbacks.Callback):
    """Sets `model.beta = schedule_fn(t)` at the start of every epoch (or step).

    Args:
        schedule_fn: callable mapping a training position t, in epochs, to beta >= 0.
            With `per_step=False`, t is the integer epoch index (0, 1, ...); with
            `per_step=True`, t = epoch + step / steps_per_epoch, a float.
        per_step: bool, default False. Update beta before every training step.
        verbose: int, default 0. 1 prints beta at the start of each epoch.

    Example:
    >>> schedule = BetaSchedule(lambda t: min(1.0, t / 5))
    >>> schedule.beta_at(2)
    0.4
    """

    def __init__(self, schedule_fn, per_step=False, verbose=0):
        super().__init__()
        if not callable(schedule_fn):
            raise TypeError(f"schedule_fn must be callable, got {schedule_fn!r}.")
        self.schedule_fn = schedule_fn
        self.per_step = bool(per_step)
        self.verbose = verbose
        self._epoch = 0
        self._epoch_beta = None

    def beta_at(self, t):
        """Returns the schedule's beta at position `t` (in epochs), checked to be >= 0."""
        beta = float(self.schedule_fn(t))
        if not (beta >= 0 and math.isfinite(beta)):
            raise ValueError(f"The beta schedule gave {beta} at t={t}; beta must be a non-negative number.")
        return beta

    def _assign(self, beta):
        if not hasattr(self.model, "beta"):
            raise TypeError(f"{type(self).__name__} needs a model with a `beta` variable (keras_vae.VAE).")
        self.model.beta.assign(beta)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_beta = self.beta_at(epoch)
        self._assign(self._epoch_beta)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: beta = {self._epoch_beta:.4g}")

    def on_train_batch_begin(self, batch, logs=None):
        if not self.per_step:
            return
        steps = (self.params or {}).get("steps")
        if not steps:
            raise ValueError(
                "per_step=True needs a known number of steps per epoch; pass steps_per_epoch to fit "
                "or use a dataset of known length."
            )
        self._assign(self.beta_at(self._epoch + batch / steps))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            # Per epoch: the beta of the whole epoch. Per step: the beta of the last step.
            logs["beta"] = float(keras.ops.convert_to_numpy(self.model.beta))


class LinearBetaWarmup(BetaSchedule):
    """KL annealing: beta rises linearly from `start` to `end` over `warmup_epochs`, then stays.

    beta(t) = start + (end - start) * min(1, t / warmup_epochs) (Bowman et al. 2016;
    Sønderby et al. 2016).

    Args:
        warmup_epochs: int or float > 0. Epochs to reach `end`.
        start: float, default 0.0.
        end: float, default 1.0.
        per_step: bool, default False. Rise every step instead of every epoch.

    Example:
    >>> [LinearBetaWarmup(4).beta_at(t) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, warmup_epochs, start=0.0, end=1.0, per_step=False, verbose=0):
        if not warmup_epochs > 0:
            raise ValueError(f"warmup_epochs must be positive, got {warmup_epochs!r}.")
        self.warmup_epochs = float(warmup_epochs)
        self.start = float(start)
        self.end = float(end)
        super().__init__(self._schedule, per_step=per_step, verbose=verbose)

    def _schedule(self, t):
        return self.start + (self.end - self.start) * min(1.0, t / self.warmup_epochs)


class CyclicalBetaSchedule(BetaSchedule):
    """Cyclical annealing (Fu et al. 2019): repeated linear warm-ups of beta.

    Training is split into cycles of `cycle_epochs`; within a cycle at fraction
    tau in [0, 1), beta = start + (end - start) * min(1, tau / ratio): it rises over
    the first `ratio` of the cycle and stays at `end` for the rest. After
    `num_cycles` cycles (if given) beta stays at `end`.

    Args:
        cycle_epochs: int or float > 0. Length of one cycle in epochs.
        ratio: float in (0, 1], default 0.5. Share of a cycle spent increasing beta.
        start: float, default 0.0.
        end: float, default 1.0.
        num_cycles: int or None, default None (cycle for ever).
        per_step: bool, default False. Update every step (Fu et al. update per iteration).

    Example:
    >>> [CyclicalBetaSchedule(4, ratio=0.5).beta_at(t) for t in range(9)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 0.0]
    """

    def __init__(self, cycle_epochs, ratio=0.5, start=0.0, end=1.0, num_cycles=None, per_step=False, verbose=0):
        if not cycle_epochs > 0:
            raise ValueError(f"cycle_epochs must be positive, got {cycle_epochs!r}.")
        if not 0 < ratio <= 1:
            raise ValueError(f"ratio must lie in (0, 1], got {ratio!r}.")
        if num_cycles is not None and num_cycles < 1:
            raise ValueError(f"num_cycles must be a positive integer or None, got {num_cycles!r}.")
        self.cycle_epochs = float(cycle_epochs)
        self.ratio = float(ratio)
        self.start = float(start)
        self.end = float(end)
        self.num_cycles = num_cycles
        super().__init__(self._schedule, per_step=per_step, verbose=verbose)

    def _schedule(self, t):
        if self.num_cycles is not None and t >= self.num_cycles * self.cycle_epochs:
            return self.end
        tau = (t % self.cycle_epochs) / self.cycle_epochs
        return self.start + (self.end - self.start) * min(1.0, tau / self.ratio)


BETA_SCHEDULES = ("constant", "linear", "cyclical")


def make_beta_schedule(name, warmup_epochs=10, beta=1.0):
    """Returns the callback for a schedule name in `BETA_SCHEDULES`, or None for "constant".

    "linear" warms beta up from 0 to `beta` over `warmup_epochs`; "cyclical" repeats
    that warm-up in cycles of 2 * `warmup_epochs` epochs (ratio 0.5).
    """
    if name == "constant":
        return None
    if name == "linear":
        return LinearBetaWarmup(warmup_epochs, start=0.0, end=beta)
    if name == "cyclical":
        return CyclicalBetaSchedule(2 * warmup_epochs, ratio=0.5, start=0.0, end=beta)
    raise ValueError(f"Unknown beta schedule {name!r}; choose one of {list(BETA_SCHEDULES)}.")


__all__ = ["BETA_SCHEDULES", "BetaSchedule", "CyclicalBetaSchedule", "LinearBetaWarmup", "make_beta_schedule"]
