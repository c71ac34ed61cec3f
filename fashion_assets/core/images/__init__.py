"""Stage 1-2, images: decoding, background removal, cropping and the accounting of every image."""
