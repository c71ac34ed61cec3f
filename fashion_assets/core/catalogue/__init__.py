"""Seeds 002-004: the product catalogue's tables and classes."""
