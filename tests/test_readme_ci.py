"""The README's test command is the one CI runs, character for character."""

import re

from clitools import REPO


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert commands[1] == ci
    assert "apt-get install -y chromium" in ci and 'pip install -e ".[test]"' in ci
