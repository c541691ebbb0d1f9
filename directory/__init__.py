"""The directory of children: who they are, where they live and who works with them."""
