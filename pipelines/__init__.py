"""Model code of the video studio: one module per task, no UI code (see DESIGN.md)."""
