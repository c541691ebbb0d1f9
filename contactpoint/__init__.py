"""ContactPoint: a directory of children in England for the practitioners who work with them."""
