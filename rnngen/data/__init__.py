"""Text in: reading files and stdin, vocabularies, token streams and batches, the corpus catalog."""
