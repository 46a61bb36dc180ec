"""The torch backends: AD by torch.func, traced to printed aten graphs or run eagerly."""
