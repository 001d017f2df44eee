"""Using a trained model: sampling text from it, scoring lines with it."""
