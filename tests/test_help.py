"""``rnngen COMMAND --help`` reads like a manual: options in panels, flags shown as flags, types as
words (INTEGER, PATH), one style of default, and examples at the end of every command's help."""

import re

import pytest
from clitools import out, run

COMMANDS = [
    [],
    ["train"],
    ["sample"],
    ["eval"],
    ["translate"],
    ["score"],
    ["info"],
    ["plot"],
    ["heatmap"],
    ["export"],
    ["serve"],
    ["corpus"],
    ["corpus", "list"],
    ["corpus", "get"],
]
TRAIN_PANELS = [
    "Arguments",
    "Model",
    "Data",
    "Training schedule",
    "Checkpoints and runs",
    "Sequence to sequence (--task seq2seq)",
    "Parallel",
    "Output",
]
FLAGS = ["--force", "--tie", "--json", "--quiet", "--help"]
SEQ2SEQ_ONLY = [
    "--src-level",
    "--tgt-level",
    "--encoder",
    "--enc-hidden",
    "--attention",
    "--teacher-forcing",
    "--label-smoothing",
    "--best-by",
    "--max-len",
]


def help_of(*command: str, columns: int = 100) -> str:
    p = run(*command, "--help", env={"COLUMNS": str(columns)})
    assert p.returncode == 0, p.stderr
    return out(p)


def panels(text: str) -> dict[str, list[str]]:
    """Each panel's title and its rows (the text between the borders), in order."""
    found: dict[str, list[str]] = {}
    rows: list[str] | None = None
    for line in text.splitlines():
        title = re.match(r"\s*╭─ (.+?) ─+╮", line)
        if title:
            rows = found.setdefault(title.group(1), [])
        elif line.lstrip().startswith("╰"):
            rows = None
        elif rows is not None:
            rows.append(line.strip().strip("│").strip())
    return found


def options_in(rows: list[str]) -> list[str]:
    return [m.group(1) for r in rows if (m := re.match(r"(--[\w-]+)", r))]


@pytest.fixture(scope="module")
def train_help() -> str:
    return help_of("train")


def test_train_help_groups_its_options_in_panels_in_order(train_help):
    assert list(panels(train_help)) == TRAIN_PANELS


def test_the_seq2seq_only_options_sit_in_the_seq2seq_panel(train_help):
    groups = panels(train_help)
    assert options_in(groups["Sequence to sequence (--task seq2seq)"]) == SEQ2SEQ_ONLY
    elsewhere = [
        o for title, rows in groups.items() if "seq2seq" not in title for o in options_in(rows)
    ]
    assert not set(SEQ2SEQ_ONLY) & set(elsewhere)
    assert "--task" in options_in(groups["Model"])


def test_every_train_option_is_in_some_panel_once(train_help):
    listed = [o for rows in panels(train_help).values() for o in options_in(rows)]
    assert len(listed) == len(set(listed)) and len(listed) >= 50
    for option in ("--hidden", "--val-file", "--lr", "--resume", "--threads", "--replicas"):
        assert option in listed


def test_types_are_words_not_python(train_help):
    for python in ("<bool>", "<int>", "<str>", "<path>", "list[", "Path]"):
        assert python not in train_help
    assert re.search(r"--hidden\s+INTEGER\s", train_help)
    assert re.search(r"--val-file\s+FILE\s", train_help)
    assert re.search(r"--resume\s+PATH\s", train_help)
    assert re.search(r"--level\s+char\|word\|bpe\s", train_help)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "rnngen")
def test_flags_show_no_value_and_defaults_have_one_style(command):
    text = help_of(*command)
    assert "<bool>" not in text and "list[" not in text
    for row in (r for rows in panels(text).values() for r in rows):
        m = re.match(r"(--[\w-]+)(\s+-\w)?\s+(\S+)", row)
        if m and m.group(1) in FLAGS:  # the help text follows the flag, no value between
            assert m.group(3)[0].isupper() and not m.group(3).isupper(), row
    # one style of default: "[default: ...]", never "(default ...)" or "Default: ..." in the text
    assert not re.search(r"\(default\b|\bDefault:|\[(?!default: )[^\]]*\bdefault\b", text)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "rnngen")
def test_every_command_ends_with_examples(command):
    lines = help_of(*command).splitlines()
    heading = [i for i, line in enumerate(lines) if line.strip() == "Examples"]
    assert len(heading) == 1, lines
    tail = lines[heading[0] + 1 :]
    examples = [line.strip() for line in tail if line.strip()]
    assert examples and all(e.startswith(" ".join(["rnngen", *command])) for e in examples)
    assert not any("╰" in line for line in tail)  # after the last panel


def test_defaults_that_are_not_values_are_stated_the_same_way(train_help):
    flat = " ".join(train_help.split())
    for text in (
        "[default: 256; seq2seq 384]",
        "[default: 64 for char, H for word and bpe; seq2seq 128]",
        "[default: 2 for seq2seq,",  # --replicas (the rest wraps within the panel's border)
        "[default: runs/NAME-TIME]",
        "[default: all cores]",
    ):
        assert text in flat
    assert "[default: False]" not in flat


def test_shared_options_read_the_same_in_every_command():
    """--threads, --encoding, --json, --quiet: one declaration, the same words everywhere (the
    default of --threads as the command has it)."""
    rows = {}
    for command in (["train"], ["eval"], ["score"], ["translate"], ["sample"]):
        for r in (r for rs in panels(help_of(*command, columns=300)).values() for r in rs):
            m = re.match(
                r"(--(?:encoding|quiet|threads))(?: -q)? (?:[A-Z]+ )?(.+)", " ".join(r.split())
            )
            if m:
                rows.setdefault(m.group(1), set()).add(m.group(2).partition(" [default:")[0])
    assert rows.keys() == {"--encoding", "--quiet", "--threads"}
    assert all(len(texts) == 1 for texts in rows.values()), rows
