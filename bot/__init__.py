"""sokbo: breaking-news alerts on Telegram and Discord from a folder of Jekyll posts."""

__version__ = "0.1.0"
