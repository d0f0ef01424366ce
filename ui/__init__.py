"""The Gradio web UI: ``ui.app.serve(bot)`` serves the chat and the documents panel."""

import os

# Set before Gradio loads: the app makes no calls to outside servers.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
