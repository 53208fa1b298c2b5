"""Euler a's noise, drawn before the denoising loop instead of inside it.

Stock Euler a draws fresh noise at every step. With CPU generators (which we keep, so that a
seed makes the same image on any GPU, alone or in a batch) every draw ends in a blocking
host-to-device copy: one host-device sync per step, during which the GPU idles. Here the
initial latents and every step's noise are drawn up front from the same generators, in the
same order as diffusers draws them, and reach the GPU in one copy before the loop starts. The
numbers are the same, so the image is the same (tested against the stock scheduler).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from diffusers import EulerAncestralDiscreteScheduler
from diffusers.schedulers.scheduling_euler_ancestral_discrete import EulerAncestralDiscreteSchedulerOutput


class PrefetchedEulerAncestral(EulerAncestralDiscreteScheduler):
    """Euler a that takes each step's noise from a tensor loaded before the call; with nothing
    loaded (the hires pass, any other caller) it is the stock scheduler."""

    _prefetched: torch.Tensor | None = None
    _next: int = 0

    @contextmanager
    def noise(self, per_step: torch.Tensor) -> Iterator[None]:
        """Use ``per_step[i]`` as step i's noise for one pipeline call."""
        if self._prefetched is not None:
            raise RuntimeError("prefetched noise is already loaded: one pipeline call at a time")
        self._prefetched, self._next = per_step, 0
        try:
            yield
        finally:
            self._prefetched = None

    def step(  # type: ignore[override]
        self,
        model_output: torch.Tensor,
        timestep: float | torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
    ) -> EulerAncestralDiscreteSchedulerOutput | tuple[torch.Tensor]:
        if self._prefetched is None:
            return super().step(model_output, timestep, sample, generator=generator, return_dict=return_dict)
        if self._next >= len(self._prefetched):
            raise ValueError(f"prefetched noise covers {len(self._prefetched)} steps but the pipeline asked for more")
        if self.config.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type {self.config.prediction_type!r} is not supported by Euler a")
        if self.step_index is None:
            self._init_step_index(timestep)
        # The stock step's arithmetic, in the same order (so the same rounding), except for
        # where the noise comes from. The sigmas live on the CPU: scalars, no device reads.
        sigma = self.sigmas[self.step_index]
        sample = sample.to(torch.float32)
        if self.config.prediction_type == "epsilon":
            pred_original_sample = sample - sigma * model_output
        else:
            pred_original_sample = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + (sample / (sigma**2 + 1))
        sigma_from = self.sigmas[self.step_index]
        sigma_to = self.sigmas[self.step_index + 1]
        sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
        sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
        derivative = (sample - pred_original_sample) / sigma
        dt = sigma_down - sigma
        prev_sample = sample + derivative * dt
        noise = self._prefetched[self._next]
        self._next += 1
        prev_sample = prev_sample + noise * sigma_up
        prev_sample = prev_sample.to(model_output.dtype)
        self._step_index += 1
        if not return_dict:
            return (prev_sample, pred_original_sample)
        return EulerAncestralDiscreteSchedulerOutput(prev_sample=prev_sample, pred_original_sample=pred_original_sample)


def draw_noise(
    generators: Sequence[torch.Generator],
    latent_shape: tuple[int, int, int],
    steps: int,
    dtype: torch.dtype,
    device: torch.device,
    initial: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(initial latents, per-step noise) for one image per generator, in diffusers' order:
    each generator gives its image's latents first, then one draw per step. ``initial``
    replaces the latents (a variation seed's mix) when it was already drawn from them."""
    shape = (1, *latent_shape)
    latents: list[torch.Tensor] = []
    per_image: list[torch.Tensor] = []
    for generator in generators:
        if initial is None:
            latents.append(torch.randn(shape, generator=generator, dtype=dtype))
        per_image.append(torch.cat([torch.randn(shape, generator=generator, dtype=dtype) for _ in range(steps)]))
    first = initial if initial is not None else torch.cat(latents)
    # (steps, images, C, H, W): step i's noise for the whole batch is one slice.
    noise = torch.stack(per_image, dim=1)
    return _to_device(first, device), _to_device(noise, device)


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type != "cuda":
        return tensor.to(device)
    # Pinned memory lets the copy run asynchronously, ordered before the loop's kernels.
    return tensor.pin_memory().to(device, non_blocking=True)


def prefetching(scheduler: Any) -> PrefetchedEulerAncestral | None:
    return scheduler if isinstance(scheduler, PrefetchedEulerAncestral) else None
