"""Avatars (Characters) and the knowledge documents they draw on: storage, rules and image processing."""
