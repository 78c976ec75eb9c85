"""Renderers: from a post to what each platform shows."""
