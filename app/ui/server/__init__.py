"""The server inside the app: the status bar's switch (status.py), what runs it (controller.py) and its page in
Settings (page.py)."""
