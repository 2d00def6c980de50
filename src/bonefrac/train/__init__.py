"""Training: thin adapter over ultralytics, experiment matrices, the runs/ registry."""
