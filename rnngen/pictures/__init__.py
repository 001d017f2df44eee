"""Pictures of models and runs: learning curves (``curves``, drawn by ``draw`` with matplotlib or
``terminal`` with braille characters, each imported only by the command that draws) and the
heatmap page of a text as a model reads it (``heatmap``, ``page``)."""
