# Hearth's own engines import their heavy libraries inside functions and pick tab/CLI modules by name
# (app.ui.tabs.TABS, app.cli.COMMANDS via importlib), so list every Hearth module explicitly.
from PyInstaller.utils.hooks import collect_submodules

hiddenimports = collect_submodules("app")
