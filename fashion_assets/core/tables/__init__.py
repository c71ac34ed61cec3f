"""Stage 1-1 / 2-x: file names and the vocabulary, survey JSON, scanning the raw folders, and the tables built from them."""
