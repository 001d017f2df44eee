"""Training: the loop, its settings, optimizers, schedules, the divergence guard, checkpoints,
evaluation, and setting up (or resuming) a run."""
