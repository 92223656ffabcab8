"""Video: frame sources, the tracker, its memory bank and the result store."""
