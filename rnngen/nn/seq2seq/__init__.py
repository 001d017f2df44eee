"""Sequence-to-sequence models: an encoder reads a source sequence, a decoder writes the target
sequence, attending over the encoder's outputs (Sutskever et al. 2014; Bahdanau et al. 2015;
Luong et al. 2015).

    config      the settings only seq2seq models have (``Seq2SeqConfig``)
    encoder     L recurrent layers over the source, each one direction or both (bidirectional)
    bridge      the encoder's final states -> the decoder's initial states
    attention   scores of decoder states against encoder outputs, context, attentional vector
    network     embedding -> encoder -> bridge -> decoder -> attention -> output, and its backward
"""
