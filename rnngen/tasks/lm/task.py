"""The language model as a task (``rnngen.tasks.base``): a model of text that continues it."""

from pathlib import Path
from typing import Any

from rnngen.tasks.base import Task


class LanguageModelTask(Task):
    name = "lm"
    what = "a language model"
    plural = "language models"
    use = "sample"

    def new_trainer(
        self, model, own, train, inputs, out, force, threads, init_from, given, flag, notice, group
    ):
        from rnngen.tasks.lm.runs import new_trainer

        return new_trainer(
            model, train, inputs, out, force, threads, init_from, given, flag, notice, group
        )

    def resume_trainer(self, ck, run_dir: Path, inputs, given, threads, flag, group):
        from rnngen.tasks.lm.runs import resume_trainer

        return resume_trainer(ck, run_dir, inputs, given, threads, flag, group)

    def follow(self, recipe: dict, model, own, train, threads, group):
        from rnngen.data.tokenfile import open_corpus
        from rnngen.errors import DataError
        from rnngen.tasks.lm.training import lm_trainer

        run_dir = recipe["run_dir"]
        try:
            corpus = open_corpus(run_dir)
        except DataError as e:
            raise DataError(
                f"{e}; every process reads the run directory's token file, so the "
                "run directory must be on a file system all machines share"
            ) from None
        return lm_trainer(model, train, corpus, run_dir, threads, group)

    def warm_training(self, trainer) -> None:
        from rnngen.generate.warm import warm_lm_kernels
        from rnngen.training.optim import warm_optimizer

        m = trainer.mcfg
        dropout = m.dropout > 0 or bool(m.dropout_input)
        warm_lm_kernels(trainer.plan.parts, m.cell, dropout, backward=True)
        warm_optimizer(trainer.tcfg.optimizer)

    def after_training(self, trainer) -> None:
        # the first sample after this run starts warm: its kernel compiles meanwhile, in a
        # process of the lowest priority that outlives this one if it must (nothing to do when
        # the kernel is cached already)
        from rnngen.generate.warm import prepare_sampling

        prepare_sampling(trainer.mcfg.cell)

    def model_class(self) -> type:
        from rnngen.tasks.lm.model import LanguageModel

        return LanguageModel

    def model(self, ck, threads: int | None) -> Any:
        from rnngen.tasks.lm.model import LanguageModel

        return LanguageModel(ck, threads)


TASK = LanguageModelTask()
