# PyInstaller entry point for both executables (hearth: console, for the CLI; hearth-gui: windowed).
import sys

from app.frozen import main

if __name__ == "__main__":
    sys.exit(main())
