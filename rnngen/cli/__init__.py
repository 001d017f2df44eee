"""The ``rnngen`` command line: one module per command, each a thin call of the library.

stdout carries data only (generated text, --json output, eval results); progress, logs, warnings
and errors go to stderr. Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.
"""
