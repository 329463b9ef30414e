//! Training: LoRA optimisation loop, optimizers, schedules, checkpoints.
