"""Root conftest. The plugin itself comes from the `pytest11` entry point of the installed package;
project-wide pytest settings for suites/ go here."""
