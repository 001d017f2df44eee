"""The recurrent cells rnngen knows. Adding a cell is one new module in this folder (its
parameters, its state and its math: see ``base.Cell``) and one entry in ``WHERE``.

A cell's module is imported when the cell is first used, so that naming the cells (the command
line's ``--cell`` and its help) costs no Numba import: ``rnngen --help`` starts in 0.1 s, not 0.3.
"""

from collections.abc import Iterator, MutableMapping
from importlib import import_module

from rnngen.nn.cells.base import Cell

WHERE = {  # name -> "module:attribute" of the cell (a Cell, or a Cell class taking no arguments)
    "lstm": "rnngen.nn.cells.lstm:LSTM",
    "gru": "rnngen.nn.cells.gru:GRU",
    "rnn-tanh": "rnngen.nn.cells.rnn:RNN_TANH",
    "rnn-relu": "rnngen.nn.cells.rnn:RNN_RELU",
}


class Registry(MutableMapping):
    """Cells by name, each imported at its first use."""

    def __init__(self, where: dict[str, str]) -> None:
        self.where = dict(where)
        self.loaded: dict[str, Cell] = {}

    def __getitem__(self, name: str) -> Cell:
        cell = self.loaded.get(name)
        if cell is None:
            module, _, attribute = self.where[name].partition(":")
            cell = getattr(import_module(module), attribute)
            cell = self.loaded[name] = cell() if isinstance(cell, type) else cell
        return cell

    def __setitem__(self, name: str, cell: Cell) -> None:  # a cell from outside rnngen
        self.where[name] = f"{type(cell).__module__}:{type(cell).__qualname__}"
        self.loaded[name] = cell

    def __delitem__(self, name: str) -> None:
        del self.where[name]
        self.loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.where)

    def __len__(self) -> int:
        return len(self.where)


CELLS = Registry(WHERE)
