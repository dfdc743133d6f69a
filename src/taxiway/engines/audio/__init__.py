"""Offline audio engines: speech synthesis, recognition, isolation, conversion, dubbing and effects."""
