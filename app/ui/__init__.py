"""The Qt layer: windows, tabs and the Qt side of jobs. Engines live in app.core."""
