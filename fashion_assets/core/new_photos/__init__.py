"""New photos: arrival batches in incoming/, rankings and the contact sheet."""
