"""The recurrent cells rnngen knows. Adding a cell is one new module in this folder (its
parameters, its state and its math: see ``base.Cell``) and one entry here."""

from rnngen.nn.cells.base import Cell
from rnngen.nn.cells.gru import GRU
from rnngen.nn.cells.lstm import LSTM
from rnngen.nn.cells.rnn import RNN

CELLS: dict[str, Cell] = {cell.name: cell for cell in (LSTM(), GRU(), RNN("tanh"), RNN("relu"))}
