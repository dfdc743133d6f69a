"""Custom voices (the Voices API): presets derived from a speech sample or designed from a description."""
