"""CLI sub-commands, one module per stage. Each parses options, calls one stage function, prints a summary.

Heavy imports (torch, ultralytics, onnxruntime) happen inside the command functions, so `bonefrac --help`
stays fast and the serving install works without torch.
"""
