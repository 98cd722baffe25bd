"""Other programs on the GPU."""
