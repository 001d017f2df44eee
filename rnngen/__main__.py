"""``python -m rnngen``: the same as the ``rnngen`` command."""

from rnngen.cli.app import main

if __name__ == "__main__":
    main()
