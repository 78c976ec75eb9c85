"""Platforms: the console, Telegram and Discord, each behind delivery's Platform interface."""
