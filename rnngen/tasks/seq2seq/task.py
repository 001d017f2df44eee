"""The sequence-to-sequence model as a task (``rnngen.tasks.base``): lines in, lines out."""

from pathlib import Path
from typing import Any

from rnngen.errors import UsageError
from rnngen.nn.seq2seq.config import RECIPE, REPLICAS, Seq2SeqConfig
from rnngen.tasks.base import Task


class Seq2SeqTask(Task):
    name = "seq2seq"
    what = "a sequence-to-sequence model"
    plural = "sequence-to-sequence models"
    use = "translate"
    settings = Seq2SeqConfig
    defaults = RECIPE
    replicas = REPLICAS
    refuses = {
        "seq_len": "applies to language models: a sequence-to-sequence batch holds whole "
        "pairs (up to --max-len tokens each)"
    }

    def check_given(self, given, flag, resume: bool, init_from: bool) -> None:
        super().check_given(given, flag, resume, init_from)
        if init_from:
            raise UsageError(
                "--init-from is for language models; seq2seq runs start fresh or --resume"
            )

    def new_trainer(
        self, model, own, train, inputs, out, force, threads, init_from, given, flag, notice, group
    ):
        from rnngen.tasks.seq2seq.runs import new_seq2seq_trainer

        return new_seq2seq_trainer(model, own, train, inputs, out, force, threads, group)

    def resume_trainer(self, ck, run_dir: Path, inputs, given, threads, flag, group):
        from rnngen.tasks.seq2seq.runs import resume_seq2seq

        return resume_seq2seq(ck, run_dir, inputs, given, threads, flag, group)

    def follow(self, recipe: dict, model, own, train, threads, group):
        from rnngen.tasks.seq2seq.training import seq2seq_trainer

        return seq2seq_trainer(model, own, train, recipe["data"], recipe["run_dir"], threads, group)

    def warm_training(self, trainer) -> None:
        from rnngen.generate.warm import warm_lm_kernels, warm_seq2seq_kernels
        from rnngen.training.optim import warm_optimizer

        m = trainer.mcfg
        dropout = m.dropout > 0 or bool(m.dropout_input)
        warm_lm_kernels(trainer.plan.parts, m.cell, dropout, backward=True)
        warm_optimizer(trainer.tcfg.optimizer)
        attention = trainer.own_settings.attention
        warm_seq2seq_kernels(trainer.plan.parts, m.cell, attention, training=True)

    def notices(self, trainer) -> list[str]:
        skipped = trainer.corpus.skipped
        if not skipped:
            return []
        return [
            f"skipped {skipped:,} training pairs longer than --max-len "
            f"{trainer.own_settings.max_len}"
        ]

    def model_class(self) -> type:
        from rnngen.tasks.seq2seq.model import Seq2SeqModel

        return Seq2SeqModel

    def model(self, ck, threads: int | None) -> Any:
        from rnngen.tasks.seq2seq.model import Seq2SeqModel

        return Seq2SeqModel(ck, threads)

    def describe(self, ck) -> dict:
        return {
            "seq2seq": ck.task_cfg.to_dict(),
            "src_vocab_size": len(ck.vocabs["src_vocab"]),
            "best_val_error": ck.info.get("best_val_error"),
        }

    def info_rows(self, d: dict) -> list[tuple[str, str]]:
        s = d["seq2seq"]
        per = "per direction" if s["encoder"] == "bi" else ""
        return [
            ("task", "sequence to sequence (rnngen translate)"),
            ("encoder", f"{s['encoder']}, {s['enc_hidden']} units {per}".rstrip()),
            ("attention", s["attention"]),
            ("source", f"{s['src_level']}, vocabulary {d['src_vocab_size']:,}"),
            ("target", f"{s['tgt_level']}, vocabulary {d['model']['vocab_size']:,} with </s>"),
        ]


TASK = Seq2SeqTask()
