"""One module per tab, in the order they appear. Each has TITLE, API_NAME and build()."""

TABS = ["text_to_video", "image_to_video", "stylize_video", "dance", "lip_sync"]
